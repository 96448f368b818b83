// The worker side of RunPod serverless, as the runpod Python SDK (1.12) calls it:
//   GET  /_worker/{endpointId}/job-take/{workerId}?...&job_in_progress=0|1          → 200 {id, input} | 204
//   GET  /_worker/{endpointId}/job-take-batch/{workerId}?...&batch_size=N            → 200 [{id, input}...] | 204
//   GET  /_worker/{endpointId}/job-stop/{workerId}?...                               → 200 {jobsToStop: [ids]} | 204
//   POST /_worker/{endpointId}/job-done/{workerId}/{jobId}?...&isStream=true|false   body {output} | {error} (+stopPod)
//   POST /_worker/{endpointId}/job-stream/{workerId}/{jobId}?...&isStream=false      body {output}
//   GET  /_worker/{endpointId}/ping/{workerId}?job_id=...&runpod_version=...
// Bodies arrive as JSON text labelled application/x-www-form-urlencoded (the SDK's choice).
// job-take and job-stop are long polls: the SDK re-polls at once after a 204.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isFinal, type Job, type JobStore } from "./job-store";
import type { WorkerManager } from "./worker-manager";

export interface WorkerProtocolOptions {
  apiKey: string;
  store: JobStore;
  /** Present when real workers run; it learns from their requests that they are up. */
  manager?: WorkerManager;
  /** Longest a job-take or job-stop waits before answering 204. Default 5 000 ms. */
  pollWaitMs?: number;
}

const doneBodySchema = z
  .object({ output: z.unknown().optional(), error: z.unknown().optional(), stopPod: z.boolean().optional() })
  .passthrough();

export async function workerProtocolPlugin(app: FastifyInstance, options: WorkerProtocolOptions): Promise<void> {
  const { store, manager } = options;
  const pollWaitMs = options.pollWaitMs ?? 5000;
  // A stop can reach the SDK in the moment between taking a job and starting its task, when
  // the SDK finds nothing to stop; so each stop is sent again a little later, a few times.
  const REDELIVER_MS = [0, 250, 1000, 3000];
  const stops = new Map<string, Array<{ jobId: string; due: number; sent: number }>>();
  const stopWaiters = new Map<string, () => void>();

  store.on("stop", (job: Job) => {
    if (!job.workerId) return;
    const list = stops.get(job.workerId) ?? [];
    list.push({ jobId: job.id, due: Date.now(), sent: 0 });
    stops.set(job.workerId, list);
    stopWaiters.get(job.workerId)?.();
  });

  /** Stops due now for a worker; each is rescheduled until it was sent REDELIVER_MS.length times. */
  const dueStops = (workerId: string): { ids: string[]; nextDue?: number } => {
    const list = stops.get(workerId) ?? [];
    const now = Date.now();
    const ids: string[] = [];
    for (const s of list) {
      if (s.due > now) continue;
      ids.push(s.jobId);
      s.sent += 1;
      s.due = s.sent < REDELIVER_MS.length ? now + REDELIVER_MS[s.sent]! - REDELIVER_MS[s.sent - 1]! : Number.POSITIVE_INFINITY;
    }
    const left = list.filter((s) => s.due !== Number.POSITIVE_INFINITY);
    if (left.length) stops.set(workerId, left);
    else stops.delete(workerId);
    const nextDue = left.length ? Math.min(...left.map((s) => s.due)) : undefined;
    return { ids, nextDue };
  };

  // Only inside this plugin: JSON text under the form content type.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const admit = (req: FastifyRequest, reply: FastifyReply): { endpointId: string; workerId: string } | undefined => {
    const auth = req.headers.authorization ?? "";
    if (auth !== options.apiKey && auth !== `Bearer ${options.apiKey}`) {
      reply.code(401).send({ error: "Unauthorized: RUNPOD_AI_API_KEY is not this emulator's key" });
      return undefined;
    }
    const { endpointId, workerId } = req.params as { endpointId: string; workerId: string };
    return { endpointId, workerId };
  };

  /** Takes up to `count` jobs, waiting up to pollWaitMs for the first one. */
  const takeJobs = async (reply: FastifyReply, endpointId: string, workerId: string, count: number): Promise<Job[]> => {
    const take = (): Job[] => {
      const jobs: Job[] = [];
      for (let i = 0; i < count; i++) {
        const job = store.take(endpointId, workerId);
        if (!job) break;
        jobs.push(job);
      }
      return jobs;
    };
    let jobs = take();
    const deadline = Date.now() + pollWaitMs;
    while (jobs.length === 0 && Date.now() < deadline && !reply.raw.destroyed) {
      await new Promise<void>((resolve) => {
        const onQueued = (id: string): void => {
          if (id === endpointId) finish();
        };
        const finish = (): void => {
          clearTimeout(timer);
          store.off("queued", onQueued);
          store.off("closing", finish);
          reply.raw.off("close", finish);
          resolve();
        };
        const timer = setTimeout(finish, deadline - Date.now());
        store.on("queued", onQueued);
        store.once("closing", finish);
        reply.raw.once("close", finish);
      });
      // A worker that went away while waiting must not be handed a job it will never run.
      if (reply.raw.destroyed) return [];
      jobs = take();
    }
    if (jobs.length > 0) manager?.seen(workerId, true);
    return jobs;
  };

  app.get("/_worker/:endpointId/job-take/:workerId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    manager?.seen(ok.workerId, false);
    const [job] = await takeJobs(reply, ok.endpointId, ok.workerId, 1);
    if (!job) return reply.code(204).send();
    return { id: job.id, input: job.input };
  });

  app.get("/_worker/:endpointId/job-take-batch/:workerId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    manager?.seen(ok.workerId, false);
    const size = z.coerce.number().int().min(1).max(1000).safeParse((req.query as { batch_size?: string }).batch_size ?? "1");
    if (!size.success) return reply.code(400).send({ error: "batch_size: allowed is an integer from 1 to 1000" });
    const jobs = await takeJobs(reply, ok.endpointId, ok.workerId, size.data);
    if (jobs.length === 0) return reply.code(204).send();
    return jobs.map((j) => ({ id: j.id, input: j.input }));
  });

  app.get("/_worker/:endpointId/job-stop/:workerId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    manager?.seen(ok.workerId, false);
    let due = dueStops(ok.workerId);
    if (due.ids.length === 0) {
      const waitMs = Math.min(pollWaitMs, due.nextDue !== undefined ? Math.max(0, due.nextDue - Date.now()) : pollWaitMs);
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          stopWaiters.delete(ok.workerId);
          store.off("closing", finish);
          reply.raw.off("close", finish);
          resolve();
        };
        const timer = setTimeout(finish, waitMs);
        stopWaiters.set(ok.workerId, finish);
        store.once("closing", finish);
        reply.raw.once("close", finish);
      });
      due = dueStops(ok.workerId);
    }
    if (due.ids.length === 0) return reply.code(204).send();
    return { jobsToStop: due.ids };
  });

  app.post("/_worker/:endpointId/job-stream/:workerId/:jobId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    const body = doneBodySchema.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: "body: allowed is a JSON object {output}" });
    store.appendStream((req.params as { jobId: string }).jobId, body.data.output);
    return { ok: true };
  });

  app.post("/_worker/:endpointId/job-done/:workerId/:jobId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    const { jobId } = req.params as { jobId: string };
    const body = doneBodySchema.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: "body: allowed is a JSON object {output} or {error}" });
    const job = store.get(jobId);
    if (job && !isFinal(job.status)) {
      const { output, error } = body.data;
      if (error) store.fail(jobId, typeof error === "string" ? error : JSON.stringify(error), output);
      else store.complete(jobId, output);
    }
    manager?.jobFinished(ok.workerId);
    return { ok: true };
  });

  app.get("/_worker/:endpointId/ping/:workerId", async (req, reply) => {
    const ok = admit(req, reply);
    if (!ok) return reply;
    manager?.seen(ok.workerId, false);
    return { ok: true };
  });
}
