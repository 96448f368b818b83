// Admission to the emulator's job API, as one Fastify hook in front of every job route: the API key,
// the endpoint, RunPod's per-10 s rate limit, injected faults and (on routes with a `:jobId`) the job.
// A route says which operation it is with `config: { jobOp }`; its handler then reads what was
// admitted with `admitted(request)` and never repeats these checks.
// It runs at onRequest, before the body is read: a request without the key is refused without
// reading (or parsing) what it sends, as an API gateway does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { EndpointLookup, Job, JobEndpoint, JobStore } from "./job-store";

const JOB_OPS = ["run", "runsync", "status", "status-sync", "stream", "cancel", "retry", "purge-queue", "health"] as const;
export type JobOp = (typeof JOB_OPS)[number];

/** Requests allowed per endpoint and operation in one window (RunPod: per 10 s). */
export type JobRateLimits = Record<JobOp, number>;

const RUNPOD_RATE_LIMITS: JobRateLimits = {
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

/** Most faults that may wait in the queue at once: a test control, but no request may grow memory without bound. */
export const MAX_QUEUED_FAULTS = 100;

export const faultSchema = z.object({
  op: z.enum(JOB_OPS),
  status: z.number().int().min(400).max(599),
  /** How many of the next requests fail. */
  count: z.number().int().min(1).max(10_000).default(1),
  /** Seconds, sent as Retry-After. */
  retryAfter: z.number().min(0).max(86_400).optional(),
  /** "after": the request takes effect (a job is created) and then the answer fails: outcome unknown to the client. */
  when: z.enum(["before", "after"]).default("before"),
});
export type Fault = z.infer<typeof faultSchema>;

/** What the hook admitted, for the route's handler. */
export interface Admission {
  endpoint: JobEndpoint;
  /** The job named by the route's `:jobId`, when the route has one. */
  job?: Job;
  /** A fault to answer once the request took effect (`when: "after"`). */
  after?: Fault;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The job API operation a route serves: the admission hook checks it. */
    jobOp?: JobOp;
  }
  interface FastifyRequest {
    jobAdmission: Admission | null;
  }
}

export interface JobAdmissionOptions {
  apiKey: string;
  store: JobStore;
  endpoints: EndpointLookup;
  faults: Fault[];
  rateLimits?: Partial<JobRateLimits>;
  /** Rate-limit window. Default 10 000 ms. */
  rateWindowMs?: number;
}

export const jobError = (reply: FastifyReply, status: number, message: string): FastifyReply => reply.code(status).send({ error: message });

export function sendFault(reply: FastifyReply, fault: Fault): FastifyReply {
  if (fault.retryAfter !== undefined) reply.header("retry-after", String(fault.retryAfter));
  return jobError(reply, fault.status, `injected fault: ${fault.status} on ${fault.op}`);
}

/** The admission of a request on a job route (the hook ran and let it through). */
export function admitted(request: FastifyRequest): Admission {
  if (!request.jobAdmission) throw new Error(`${request.method} ${request.url} has no jobOp: the admission hook did not run`);
  return request.jobAdmission;
}

/** The job named by the route's `:jobId` (404 was answered by the hook when there is none). */
export function admittedJob(request: FastifyRequest): Job {
  const { job } = admitted(request);
  if (!job) throw new Error(`${request.method} ${request.url} has no :jobId`);
  return job;
}

/** Per endpoint and operation, fixed windows: one counter per key, so memory is bounded by endpoints × operations. */
class RateWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly limits: JobRateLimits,
    private readonly windowMs: number,
  ) {}

  /** Counts one request; returns the seconds to wait when it is over the limit. */
  over(endpointId: string, op: JobOp, now: number): number | undefined {
    const key = `${endpointId} ${op}`;
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    if (window.count <= this.limits[op]) return undefined;
    return Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000));
  }
}

/** Takes the next queued fault for an operation, counting it down. */
function takeFault(faults: Fault[], op: JobOp): Fault | undefined {
  const i = faults.findIndex((f) => f.op === op);
  if (i < 0) return undefined;
  const fault = faults[i]!;
  fault.count -= 1;
  if (fault.count <= 0) faults.splice(i, 1);
  return fault;
}

/** Registers the hook in the calling plugin's scope: every route there with `config.jobOp` is admitted by it. */
export function registerJobAdmission(app: FastifyInstance, options: JobAdmissionOptions): void {
  const limits: JobRateLimits = { ...RUNPOD_RATE_LIMITS, ...options.rateLimits };
  const windowMs = options.rateWindowMs ?? 10_000;
  const windows = new RateWindows(limits, windowMs);
  const { store, endpoints, faults, apiKey } = options;

  app.decorateRequest("jobAdmission", null);
  app.addHook("onRequest", async (request, reply) => {
    const op = request.routeOptions.config.jobOp;
    if (op === undefined) return;
    const auth = request.headers.authorization ?? "";
    // RunPod accepts the key with or without the Bearer scheme.
    if (auth !== `Bearer ${apiKey}` && auth !== apiKey) {
      return jobError(reply, 401, "Unauthorized: the Authorization header must carry a valid API key");
    }
    const { endpointId, jobId } = request.params as { endpointId: string; jobId?: string };
    const endpoint = endpoints(endpointId);
    if (!endpoint) return jobError(reply, 404, `endpoint "${endpointId}" not found`);
    const retryAfter = windows.over(endpointId, op, Date.now());
    if (retryAfter !== undefined) {
      reply.header("retry-after", String(retryAfter));
      return jobError(reply, 429, `rate limit of ${limits[op]} ${op} requests per ${windowMs / 1000} s exceeded for endpoint "${endpointId}"`);
    }
    const fault = takeFault(faults, op);
    if (fault && fault.when === "before") return sendFault(reply, fault);
    const admission: Admission = { endpoint, ...(fault ? { after: fault } : {}) };
    if (jobId !== undefined) {
      const job = store.get(jobId);
      if (!job || job.endpointId !== endpointId) {
        return jobError(reply, 404, `job "${jobId}" not found on endpoint "${endpointId}" (unknown, or its retention expired)`);
      }
      admission.job = job;
    }
    request.jobAdmission = admission;
  });
}
