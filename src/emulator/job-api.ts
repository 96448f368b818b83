// The emulator's job API (api.runpod.ai/v2/{endpointId}/...), as a Fastify plugin:
// run, runsync, status, status-sync, stream, cancel, retry, purge-queue, health,
// with RunPod's states, retention, execution timeouts and per-10 s rate limits.
// Auth, endpoint, rate limit, faults and the job lookup happen once, in job-admission.ts.
// Test controls: GET /_emulator/jobs (inspection), POST|DELETE /_emulator/job-faults.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isFinal, statusBody, type EndpointLookup, type Job, type JobStore } from "./job-store";
import { jsonText } from "./json-text";
import { deliverWebhooks, webhookRefusal } from "./job-webhooks";
import type { JobExecutor } from "./job-executor";
import {
  MAX_QUEUED_FAULTS,
  admitted,
  admittedJob,
  faultSchema,
  jobError,
  registerJobAdmission,
  sendFault,
  type Fault,
  type JobRateLimits,
} from "./job-admission";

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
  /** Pause before each of a webhook's two retries (RunPod: 10 s). */
  webhookRetryDelayMs?: number;
  /** The only origins a job's webhook may name (loopback, checked by checkWebhookOrigin). Default none. */
  webhookOrigins?: readonly string[];
}

/** RunPod's payload limits: /run 10 MB, /runsync 20 MB. */
const RUN_BODY_LIMIT = 10 * 1024 * 1024;
const RUNSYNC_BODY_LIMIT = 20 * 1024 * 1024;

const runBodySchema = z.object({
  input: z.unknown(),
  // RunPod POSTs the final status to it; the emulator calls only the origins it was given (parseRun).
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
type RunBody = z.infer<typeof runBodySchema>;

const waitSchema = z.coerce.number().int().min(1000).max(300_000);
const inspectLimitSchema = z.coerce.number().int().min(1).max(1000);

function parseRun(request: FastifyRequest, reply: FastifyReply, webhookOrigins: readonly string[]): RunBody | undefined {
  const parsed = runBodySchema.safeParse(request.body ?? {});
  if (!parsed.success || parsed.data.input === undefined) {
    const issue = parsed.success ? { path: ["input"], message: "Required" } : parsed.error.issues[0]!;
    jobError(reply, 400, `invalid request body: ${issue.path.join(".") || "body"}: ${issue.message}`);
    return undefined;
  }
  const refusal = parsed.data.webhook === undefined ? undefined : webhookRefusal(parsed.data.webhook, webhookOrigins);
  if (refusal !== undefined) {
    jobError(reply, 400, `invalid request body: webhook: ${refusal}`);
    return undefined;
  }
  return parsed.data;
}

function parseWait(request: FastifyRequest, reply: FastifyReply, fallback: number): number | undefined {
  const raw = (request.query as { wait?: string }).wait;
  if (raw === undefined) return fallback;
  const parsed = waitSchema.safeParse(raw);
  if (!parsed.success) {
    jobError(reply, 400, `invalid query parameter wait=${JSON.stringify(raw)}: allowed is an integer of ms from 1000 to 300000`);
    return undefined;
  }
  return parsed.data;
}

/**
 * runpod-python's cancel() and purge_queue() send `Content-Type: application/json` with no body, and
 * RunPod answers them; Fastify's own JSON parser refuses an empty body. Here an empty body is no body
 * (a route that needs one says what is missing); anything else goes to Fastify's parser as before.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if ((body as string).trim() === "") {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}

/** Waits for a job to finish, ending early if the client goes away. */
// (The response's "close", not the request's: a request emits "close" as soon as its body was read.)
function waitFinal(store: JobStore, reply: FastifyReply, jobId: string, waitMs: number): Promise<Job | undefined> {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  reply.raw.once("close", onClose);
  return store.waitFor(jobId, (j) => isFinal(j.status), waitMs, gone.signal).finally(() => reply.raw.off("close", onClose));
}

export async function jobApiPlugin(app: FastifyInstance, options: JobApiOptions): Promise<void> {
  const { store, executor, endpoints } = options;
  const streamWaitMs = options.streamWaitMs ?? 1000;
  const faults: Fault[] = [];
  acceptEmptyJsonBodies(app);
  deliverWebhooks(store, { retryDelayMs: options.webhookRetryDelayMs });
  registerJobAdmission(app, { apiKey: options.apiKey, store, endpoints, faults, rateLimits: options.rateLimits, rateWindowMs: options.rateWindowMs });

  submitRoutes(app, store, options.webhookOrigins ?? []);
  readRoutes(app, store, streamWaitMs);
  controlRoutes(app, store, executor);
  registerJobControls(app, store, faults);
}

/** /run and /runsync: a job into the queue (and, for /runsync, its answer when it comes in time). */
function submitRoutes(app: FastifyInstance, store: JobStore, webhookOrigins: readonly string[]): void {
  app.post("/v2/:endpointId/run", { config: { jobOp: "run" }, bodyLimit: RUN_BODY_LIMIT }, async (request, reply) => {
    const { endpoint, after } = admitted(request);
    const body = parseRun(request, reply, webhookOrigins);
    if (!body) return reply;
    const job = store.submit(endpoint, body.input, "run", body.policy, body.webhook);
    if (after) return sendFault(reply, after);
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/runsync", { config: { jobOp: "runsync" }, bodyLimit: RUNSYNC_BODY_LIMIT }, async (request, reply) => {
    const { endpoint, after } = admitted(request);
    const body = parseRun(request, reply, webhookOrigins);
    if (!body) return reply;
    const wait = parseWait(request, reply, 90_000);
    if (wait === undefined) return reply;
    const job = store.submit(endpoint, body.input, "runsync", body.policy, body.webhook);
    if (after) return sendFault(reply, after);
    const done = await waitFinal(store, reply, job.id, wait);
    if (!done) return { id: job.id, status: job.status };
    return isFinal(done.status) ? statusBody(done, store.now()) : { id: done.id, status: done.status };
  });
}

/** /status, /status-sync and /stream: what a job is and what it streamed. */
function readRoutes(app: FastifyInstance, store: JobStore, streamWaitMs: number): void {
  app.get("/v2/:endpointId/status/:jobId", { config: { jobOp: "status" } }, async (request, reply) => {
    const { after } = admitted(request);
    const job = admittedJob(request);
    if (after) return sendFault(reply, after);
    return statusBody(job, store.now());
  });

  // Undocumented long-poll used by the npm runpod-sdk after /runsync: answers when the job is final or `wait` passed.
  app.get("/v2/:endpointId/status-sync/:jobId", { config: { jobOp: "status-sync" } }, async (request, reply) => {
    const { after } = admitted(request);
    const job = admittedJob(request);
    const wait = parseWait(request, reply, 90_000);
    if (wait === undefined) return reply;
    const done = await waitFinal(store, reply, job.id, wait);
    if (!done) return jobError(reply, 404, `job "${job.id}" expired while waiting`);
    if (after) return sendFault(reply, after);
    return statusBody(done, store.now());
  });

  app.get("/v2/:endpointId/stream/:jobId", { config: { jobOp: "stream" } }, async (request, reply) => {
    const { after } = admitted(request);
    const job = admittedJob(request);
    // Holds the request briefly until a chunk arrives or the job ends, so readers need not spin.
    const ready = await store.waitFor(job.id, (j) => j.stream.length > j.streamRead || isFinal(j.status), streamWaitMs);
    if (!ready) return jobError(reply, 404, `job "${job.id}" expired while streaming`);
    if (after) return sendFault(reply, after);
    const chunks = ready.stream.slice(ready.streamRead).map((output) => ({ output }));
    ready.streamRead = ready.stream.length;
    const body: Record<string, unknown> = { status: ready.status, stream: chunks };
    if (ready.error !== undefined) body.error = ready.error;
    return body;
  });
}

/** /cancel, /retry, /purge-queue and /health. */
function controlRoutes(app: FastifyInstance, store: JobStore, executor: JobExecutor): void {
  app.post("/v2/:endpointId/cancel/:jobId", { config: { jobOp: "cancel" } }, async (request, reply) => {
    const { after } = admitted(request);
    const job = admittedJob(request);
    store.cancel(job.id);
    if (after) return sendFault(reply, after);
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/retry/:jobId", { config: { jobOp: "retry" } }, async (request, reply) => {
    const job = admittedJob(request);
    if (!store.retry(job.id)) {
      return jobError(reply, 400, `job "${job.id}" is ${job.status}: only FAILED or TIMED_OUT jobs can be retried`);
    }
    return { id: job.id, status: job.status };
  });

  app.post("/v2/:endpointId/purge-queue", { config: { jobOp: "purge-queue" } }, async (request) => {
    const { endpoint } = admitted(request);
    return { removed: store.purgeQueue(endpoint.id), status: "completed" };
  });

  app.get("/v2/:endpointId/health", { config: { jobOp: "health" } }, async (request) => {
    const { endpoint } = admitted(request);
    const c = store.countersOf(endpoint.id);
    return {
      jobs: {
        completed: c.completed,
        failed: c.failed,
        inProgress: store.inProgress(endpoint.id),
        inQueue: store.queueLength(endpoint.id),
        retried: c.retried,
      },
      workers: executor.workers(endpoint.id),
    };
  });
}

/** Test controls: what the store holds, and faults to inject into the next job API requests. */
function registerJobControls(app: FastifyInstance, store: JobStore, faults: Fault[]): void {
  // At most `limit` (1000) jobs, the newest, oldest first: a store holding many large inputs must not be
  // serialized whole in one answer.
  app.get("/_emulator/jobs", async (request, reply) => {
    const { endpointId, limit: rawLimit } = request.query as { endpointId?: string; limit?: string };
    const limit = inspectLimitSchema.safeParse(rawLimit ?? "1000");
    if (!limit.success) return jobError(reply, 400, "limit: allowed is an integer from 1 to 1000");
    // Written without recursion: one input nested 50,000 deep must not break this view (jsonText).
    return reply.type("application/json").send(jsonText(store.list(endpointId).slice(-limit.data).map((j) => ({
      id: j.id,
      endpointId: j.endpointId,
      status: j.status,
      input: j.input,
      workerId: j.workerId,
      retries: j.retries,
      createdAt: j.createdAt,
      startedAt: j.startedAt,
      finishedAt: j.finishedAt,
    }))));
  });

  app.post("/_emulator/job-faults", async (request, reply) => {
    const parsed = faultSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return jobError(reply, 400, `invalid fault: ${issue.path.join(".")}: ${issue.message}`);
    }
    if (faults.length >= MAX_QUEUED_FAULTS) return jobError(reply, 400, `at most ${MAX_QUEUED_FAULTS} faults may wait at once; DELETE /_emulator/job-faults clears them`);
    faults.push(parsed.data);
    return { queued: faults.length };
  });

  app.delete("/_emulator/job-faults", async () => {
    faults.length = 0;
    return { queued: 0 };
  });
}
