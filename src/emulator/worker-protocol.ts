// The worker side of RunPod serverless, as the runpod Python SDK (1.12) calls it:
//   GET  /_worker/{endpointId}/job-take/{workerId}?...&job_in_progress=0|1          → 200 {id, input} | 204
//   GET  /_worker/{endpointId}/job-take-batch/{workerId}?...&batch_size=N            → 200 [{id, input}...] | 204
//   GET  /_worker/{endpointId}/job-stop/{workerId}?...                               → 200 {jobsToStop: [ids]} | 204
//   POST /_worker/{endpointId}/job-done/{workerId}/{jobId}?...&isStream=true|false   body {output} | {error} (+stopPod)
//   POST /_worker/{endpointId}/job-stream/{workerId}/{jobId}?...&isStream=false      body {output}
//   GET  /_worker/{endpointId}/ping/{workerId}?job_id=...&runpod_version=...
// Bodies arrive as JSON text labelled application/x-www-form-urlencoded (the SDK's choice).
// job-take and job-stop are long polls: the SDK re-polls at once after a 204.
import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isFinal, type Job, type JobStore } from "./job-store";
import { jsonText } from "./json-text";
import type { WorkerManager } from "./worker-manager";
import { WorkerStops } from "./worker-stops";

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

const batchSizeSchema = z.coerce.number().int().min(1).max(1000);

/** A worker's output may be as large as RunPod's largest synchronous payload (20 MB), not Fastify's 1 MB default. */
const OUTPUT_BODY_LIMIT = 20 * 1024 * 1024;

interface WorkerParams {
  endpointId: string;
  workerId: string;
  jobId?: string;
}

const paramsOf = (request: FastifyRequest): WorkerParams => request.params as WorkerParams;

/** Resolves when a job is queued for the endpoint, after `ms`, when the emulator closes, or when the worker hangs up. */
function queuedOrTimeout(store: JobStore, endpointId: string, ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const onQueued = (id: string): void => {
      if (id === endpointId) finish();
    };
    const finish = (): void => {
      clearTimeout(timer);
      store.off("queued", onQueued);
      store.off("closing", finish);
      res.off("close", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    store.on("queued", onQueued);
    store.once("closing", finish);
    res.once("close", finish);
  });
}

/** Takes up to `count` jobs, long-polling up to `waitMs` for the first one; none for a worker being stopped. */
async function takeJobs(store: JobStore, manager: WorkerManager | undefined, reply: FastifyReply, params: WorkerParams, count: number, waitMs: number): Promise<Job[]> {
  const take = (): Job[] => {
    const jobs: Job[] = [];
    if (manager && !manager.accepts(params.workerId)) return jobs;
    for (let i = 0; i < count; i++) {
      const job = store.take(params.endpointId, params.workerId);
      if (!job) break;
      jobs.push(job);
    }
    return jobs;
  };
  let jobs = take();
  const deadline = Date.now() + waitMs;
  while (jobs.length === 0 && Date.now() < deadline && !reply.raw.destroyed) {
    await queuedOrTimeout(store, params.endpointId, deadline - Date.now(), reply.raw);
    // A worker that went away while waiting must not be handed a job it will never run.
    if (reply.raw.destroyed) return [];
    jobs = take();
  }
  return jobs;
}

/** The SDK's bodies: JSON text under the form content type. Registered only inside this plugin. */
function parseFormAsJson(app: FastifyInstance): void {
  // Fastify's own JSON parser: a `__proto__` or `constructor` key is refused, as for any JSON body.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (request, body, done) => parseJson(request, body as string, done));
}

export async function workerProtocolPlugin(app: FastifyInstance, options: WorkerProtocolOptions): Promise<void> {
  const { store, manager, apiKey } = options;
  const pollWaitMs = options.pollWaitMs ?? 5000;
  const stops = new WorkerStops(store);
  parseFormAsJson(app);

  // Every route here is the worker protocol: the worker's key first, and any request shows the worker is up.
  app.addHook("onRequest", async (request, reply) => {
    const auth = request.headers.authorization ?? "";
    if (auth !== apiKey && auth !== `Bearer ${apiKey}`) {
      return reply.code(401).send({ error: "Unauthorized: RUNPOD_AI_API_KEY is not this emulator's key" });
    }
    manager?.seen(paramsOf(request).workerId, false);
  });

  app.get("/_worker/:endpointId/job-take/:workerId", async (request, reply) => {
    const params = paramsOf(request);
    const [job] = await takeJobs(store, manager, reply, params, 1, pollWaitMs);
    if (!job) return reply.code(204).send();
    manager?.seen(params.workerId, true);
    return reply.type("application/json").send(jsonText({ id: job.id, input: job.input }));
  });

  app.get("/_worker/:endpointId/job-take-batch/:workerId", async (request, reply) => {
    const params = paramsOf(request);
    const size = batchSizeSchema.safeParse((request.query as { batch_size?: string }).batch_size ?? "1");
    if (!size.success) return reply.code(400).send({ error: "batch_size: allowed is an integer from 1 to 1000" });
    const jobs = await takeJobs(store, manager, reply, params, size.data, pollWaitMs);
    if (jobs.length === 0) return reply.code(204).send();
    manager?.seen(params.workerId, true);
    return reply.type("application/json").send(jsonText(jobs.map((j) => ({ id: j.id, input: j.input }))));
  });

  app.get("/_worker/:endpointId/job-stop/:workerId", async (request, reply) => {
    const ids = await stops.take(paramsOf(request).workerId, pollWaitMs, reply.raw);
    if (ids.length === 0) return reply.code(204).send();
    return { jobsToStop: ids };
  });

  app.post("/_worker/:endpointId/job-stream/:workerId/:jobId", { bodyLimit: OUTPUT_BODY_LIMIT }, async (request, reply) => {
    const body = doneBodySchema.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: "body: allowed is a JSON object {output}" });
    store.appendStream(paramsOf(request).jobId!, body.data.output);
    return { ok: true };
  });

  app.post("/_worker/:endpointId/job-done/:workerId/:jobId", { bodyLimit: OUTPUT_BODY_LIMIT }, async (request, reply) => {
    const { workerId, jobId } = paramsOf(request);
    const body = doneBodySchema.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: "body: allowed is a JSON object {output} or {error}" });
    const job = store.get(jobId!);
    if (job && !isFinal(job.status)) {
      const { output, error } = body.data;
      if (error) store.fail(jobId!, typeof error === "string" ? error : JSON.stringify(error), output);
      else store.complete(jobId!, output);
    }
    manager?.jobFinished(workerId);
    return { ok: true };
  });

  app.get("/_worker/:endpointId/ping/:workerId", async () => ({ ok: true }));
}
