// The emulator's job API (api.runpod.ai/v2/{endpointId}/...), as a Fastify plugin:
// run, runsync, status, status-sync, stream, cancel, retry, purge-queue, health,
// with RunPod's states, retention, execution timeouts and per-10 s rate limits.
// Test controls: GET /_emulator/jobs (inspection), POST /_emulator/job-faults.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { JobStore, isFinal, type EndpointLookup, type Job } from "./job-store";
import type { JobExecutor } from "./job-executor";

export const JOB_OPS = ["run", "runsync", "status", "status-sync", "stream", "cancel", "retry", "purge-queue", "health"] as const;
export type JobOp = (typeof JOB_OPS)[number];

/** Requests allowed per endpoint and operation in one window (RunPod: per 10 s). */
export type JobRateLimits = Record<JobOp, number>;

export const RUNPOD_RATE_LIMITS: JobRateLimits = {
  runsync: 2000,
  run: 1000,
  status: 2000,
  "status-sync": 2000,
  stream: 2000,
  cancel: 100,
  retry: 100,
  "purge-queue": 2,
  // /health is free; RunPod documents no limit for it.
  health: Number.POSITIVE_INFINITY,
};

export interface JobApiOptions {
  apiKey: string;
  store: JobStore;
  executor: JobExecutor;
  endpoints: EndpointLookup;
  rateLimits?: Partial<JobRateLimits>;
  /** Rate-limit window. Default 10 000 ms. */
  rateWindowMs?: number;
  /** Longest `/stream` waits for a chunk before answering with none. Default 1 000 ms. */
  streamWaitMs?: number;
}

const faultSchema = z.object({
  op: z.enum(JOB_OPS),
  status: z.number().int().min(400).max(599),
  /** How many of the next requests fail. */
  count: z.number().int().min(1).default(1),
  /** Seconds, sent as Retry-After. */
  retryAfter: z.number().min(0).optional(),
  /** "after": the request takes effect (a job is created) and then the answer fails: outcome unknown to the client. */
  when: z.enum(["before", "after"]).default("before"),
});
type Fault = z.infer<typeof faultSchema>;

const runBodySchema = z.object({
  input: z.unknown(),
  webhook: z.string().optional(),
  policy: z
    .object({
      executionTimeout: z.number().int().min(5000).optional(),
      ttl: z.number().int().min(10_000).optional(),
      lowPriority: z.boolean().optional(),
    })
    .optional(),
  s3Config: z.unknown().optional(),
});

const waitSchema = z.coerce.number().int().min(1000).max(300_000);

export function statusBody(job: Job, now: number): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: job.id,
    status: job.status,
    delayTime: (job.startedAt ?? (isFinal(job.status) ? job.finishedAt! : now)) - job.createdAt,
  };
  if (job.startedAt !== undefined) body.executionTime = (job.finishedAt ?? now) - job.startedAt;
  if (job.output !== undefined) body.output = job.output;
  if (job.error !== undefined) body.error = job.error;
  if (job.workerId !== undefined) body.workerId = job.workerId;
  if (job.retries > 0) body.retries = job.retries;
  return body;
}

export async function jobApiPlugin(app: FastifyInstance, options: JobApiOptions): Promise<void> {
  const { store, executor, endpoints } = options;
  const limits: JobRateLimits = { ...RUNPOD_RATE_LIMITS, ...options.rateLimits };
  const windowMs = options.rateWindowMs ?? 10_000;
  const streamWaitMs = options.streamWaitMs ?? 1000;
  const windows = new Map<string, { start: number; count: number }>();
  const faults: Fault[] = [];

  const error = (reply: FastifyReply, status: number, message: string): FastifyReply =>
    reply.code(status).send({ error: message });

  /** Auth, endpoint, rate limit and injected faults; returns the endpoint id, or undefined when a reply was sent. */
  const admit = (req: FastifyRequest, reply: FastifyReply, op: JobOp): { endpointId: string; after?: Fault } | undefined => {
    const auth = req.headers.authorization ?? "";
    // RunPod accepts the key with or without the Bearer scheme.
    if (auth !== `Bearer ${options.apiKey}` && auth !== options.apiKey) {
      error(reply, 401, "Unauthorized: the Authorization header must carry a valid API key");
      return undefined;
    }
    const { endpointId } = req.params as { endpointId: string };
    if (!endpoints(endpointId)) {
      error(reply, 404, `endpoint "${endpointId}" not found`);
      return undefined;
    }
    const key = `${endpointId} ${op}`;
    const now = Date.now();
    let w = windows.get(key);
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    w.count += 1;
    if (w.count > limits[op]) {
      reply.header("retry-after", String(Math.max(1, Math.ceil((w.start + windowMs - now) / 1000))));
      error(reply, 429, `rate limit of ${limits[op]} ${op} requests per ${windowMs / 1000} s exceeded for endpoint "${endpointId}"`);
      return undefined;
    }
    const i = faults.findIndex((f) => f.op === op);
    if (i >= 0) {
      const fault = faults[i]!;
      fault.count -= 1;
      if (fault.count <= 0) faults.splice(i, 1);
      if (fault.when === "after") return { endpointId, after: fault };
      sendFault(reply, fault);
      return undefined;
    }
    return { endpointId };
  };

  const sendFault = (reply: FastifyReply, fault: Fault): FastifyReply => {
    if (fault.retryAfter !== undefined) reply.header("retry-after", String(fault.retryAfter));
    return error(reply, fault.status, `injected fault: ${fault.status} on ${fault.op}`);
  };

  const findJob = (reply: FastifyReply, endpointId: string, jobId: string): Job | undefined => {
    const job = store.get(jobId);
    if (!job || job.endpointId !== endpointId) {
      error(reply, 404, `job "${jobId}" not found on endpoint "${endpointId}" (unknown, or its retention expired)`);
      return undefined;
    }
    return job;
  };

  const parseRun = (req: FastifyRequest, reply: FastifyReply): z.infer<typeof runBodySchema> | undefined => {
    const parsed = runBodySchema.safeParse(req.body ?? {});
    if (!parsed.success || parsed.data.input === undefined) {
      const issue = parsed.success ? { path: ["input"], message: "Required" } : parsed.error.issues[0]!;
      error(reply, 400, `invalid request body: ${issue.path.join(".") || "body"}: ${issue.message}`);
      return undefined;
    }
    return parsed.data;
  };

  /** Waits for a job of this request to finish, ending early if the client goes away. */
  // (The response's "close", not the request's: a request emits "close" as soon as its body was read.)
  const waitFinal = (reply: FastifyReply, jobId: string, waitMs: number): Promise<Job | undefined> => {
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    reply.raw.once("close", onClose);
    return store.waitFor(jobId, (j) => isFinal(j.status), waitMs, gone.signal).finally(() => reply.raw.off("close", onClose));
  };

  const parseWait = (req: FastifyRequest, reply: FastifyReply, fallback: number): number | undefined => {
    const raw = (req.query as { wait?: string }).wait;
    if (raw === undefined) return fallback;
    const parsed = waitSchema.safeParse(raw);
    if (!parsed.success) {
      error(reply, 400, `invalid query parameter wait=${JSON.stringify(raw)}: allowed is an integer of ms from 1000 to 300000`);
      return undefined;
    }
    return parsed.data;
  };

  app.post("/v2/:endpointId/run", async (req, reply) => {
    const ok = admit(req, reply, "run");
    if (!ok) return reply;
    const body = parseRun(req, reply);
    if (!body) return reply;
    const job = store.submit(endpoints(ok.endpointId)!, body.input, "run", body.policy);
    if (ok.after) return sendFault(reply, ok.after);
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/runsync", async (req, reply) => {
    const ok = admit(req, reply, "runsync");
    if (!ok) return reply;
    const body = parseRun(req, reply);
    if (!body) return reply;
    const wait = parseWait(req, reply, 90_000);
    if (wait === undefined) return reply;
    const job = store.submit(endpoints(ok.endpointId)!, body.input, "runsync", body.policy);
    if (ok.after) return sendFault(reply, ok.after);
    const done = await waitFinal(reply, job.id, wait);
    if (!done) return { id: job.id, status: job.status };
    return isFinal(done.status) ? statusBody(done, store.now()) : { id: done.id, status: done.status };
  });

  app.get("/v2/:endpointId/status/:jobId", async (req, reply) => {
    const ok = admit(req, reply, "status");
    if (!ok) return reply;
    const job = findJob(reply, ok.endpointId, (req.params as { jobId: string }).jobId);
    if (!job) return reply;
    if (ok.after) return sendFault(reply, ok.after);
    return statusBody(job, store.now());
  });

  // Undocumented long-poll used by the npm runpod-sdk after /runsync: answers when the job is final or `wait` passed.
  app.get("/v2/:endpointId/status-sync/:jobId", async (req, reply) => {
    const ok = admit(req, reply, "status-sync");
    if (!ok) return reply;
    const job = findJob(reply, ok.endpointId, (req.params as { jobId: string }).jobId);
    if (!job) return reply;
    const wait = parseWait(req, reply, 90_000);
    if (wait === undefined) return reply;
    const done = await waitFinal(reply, job.id, wait);
    if (!done) return error(reply, 404, `job "${job.id}" expired while waiting`);
    if (ok.after) return sendFault(reply, ok.after);
    return statusBody(done, store.now());
  });

  app.get("/v2/:endpointId/stream/:jobId", async (req, reply) => {
    const ok = admit(req, reply, "stream");
    if (!ok) return reply;
    const job = findJob(reply, ok.endpointId, (req.params as { jobId: string }).jobId);
    if (!job) return reply;
    // Holds the request briefly until a chunk arrives or the job ends, so readers need not spin.
    const ready = await store.waitFor(job.id, (j) => j.stream.length > j.streamRead || isFinal(j.status), streamWaitMs);
    if (!ready) return error(reply, 404, `job "${job.id}" expired while streaming`);
    if (ok.after) return sendFault(reply, ok.after);
    const chunks = ready.stream.slice(ready.streamRead).map((output) => ({ output }));
    ready.streamRead = ready.stream.length;
    const body: Record<string, unknown> = { status: ready.status, stream: chunks };
    if (ready.error !== undefined) body.error = ready.error;
    return body;
  });

  app.post("/v2/:endpointId/cancel/:jobId", async (req, reply) => {
    const ok = admit(req, reply, "cancel");
    if (!ok) return reply;
    const job = findJob(reply, ok.endpointId, (req.params as { jobId: string }).jobId);
    if (!job) return reply;
    store.cancel(job.id);
    if (ok.after) return sendFault(reply, ok.after);
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/retry/:jobId", async (req, reply) => {
    const ok = admit(req, reply, "retry");
    if (!ok) return reply;
    const job = findJob(reply, ok.endpointId, (req.params as { jobId: string }).jobId);
    if (!job) return reply;
    if (!store.retry(job.id)) {
      return error(reply, 400, `job "${job.id}" is ${job.status}: only FAILED or TIMED_OUT jobs can be retried`);
    }
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/purge-queue", async (req, reply) => {
    const ok = admit(req, reply, "purge-queue");
    if (!ok) return reply;
    const removed = store.purgeQueue(ok.endpointId);
    return { removed, status: "completed" };
  });

  app.get("/v2/:endpointId/health", async (req, reply) => {
    const ok = admit(req, reply, "health");
    if (!ok) return reply;
    const c = store.countersOf(ok.endpointId);
    return {
      jobs: {
        completed: c.completed,
        failed: c.failed,
        inProgress: store.inProgress(ok.endpointId),
        inQueue: store.queueLength(ok.endpointId),
        retried: c.retried,
      },
      workers: executor.workers(ok.endpointId),
    };
  });

  app.get("/_emulator/jobs", async (req) => {
    const { endpointId } = req.query as { endpointId?: string };
    return store.list(endpointId).map((j) => ({
      id: j.id,
      endpointId: j.endpointId,
      status: j.status,
      input: j.input,
      workerId: j.workerId,
      retries: j.retries,
      createdAt: j.createdAt,
      startedAt: j.startedAt,
      finishedAt: j.finishedAt,
    }));
  });

  app.post("/_emulator/job-faults", async (req, reply) => {
    const parsed = faultSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return error(reply, 400, `invalid fault: ${issue.path.join(".")}: ${issue.message}`);
    }
    faults.push(parsed.data);
    return { queued: faults.length };
  });

  app.delete("/_emulator/job-faults", async () => {
    faults.length = 0;
    return { queued: 0 };
  });
}
