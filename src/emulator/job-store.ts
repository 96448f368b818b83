// The emulator's job queue and store: one place that holds every serverless job,
// its state machine and its timers, so the job API (clients) and the executors
// (in-process fakes or real SDK worker processes) meet on the same queue.
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";

const JOB_STATUSES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
const FINAL_STATUSES: readonly JobStatus[] = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];
export const isFinal = (status: JobStatus): boolean => FINAL_STATUSES.includes(status);

/** A job as /status answers it (and as a webhook receives it). */
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

/** What the job API needs to know of an endpoint (a subset of REST v2's Endpoint). */
export interface JobEndpoint {
  id: string;
  /** Most workers the endpoint may run at once. */
  workersMax: number;
  /** Workers kept running even without work. */
  workersMin: number;
  /** Seconds a worker stays up without work before it is stopped. */
  idleTimeout: number;
  /** Default execution timeout of a job, in ms. */
  executionTimeoutMs: number;
  /** The endpoint's env as declared (REST v2 `env`): RunPod hands it to each of its workers. */
  env?: Record<string, string>;
}

/** Looks an endpoint up by id in the emulator's REST state; undefined when it does not exist. */
export type EndpointLookup = (endpointId: string) => JobEndpoint | undefined;

export interface Job {
  id: string;
  endpointId: string;
  input: unknown;
  status: JobStatus;
  /** "runsync" jobs are kept for a shorter time after they finish. */
  origin: "run" | "runsync";
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  output?: unknown;
  error?: string;
  /** Every streamed chunk, in order; readers keep their own cursor. */
  stream: unknown[];
  /** How many chunks `/stream` has already handed out. */
  streamRead: number;
  executionTimeoutMs: number;
  /** Whole-life TTL (queue + run), from the job's policy; undefined: none. */
  ttlMs?: number;
  /** The worker that took the job. */
  workerId?: string;
  /** POSTed the job's status body when it is final (loopback URLs only). */
  webhook?: string;
  retries: number;
  /** Set when the job is final: the time after which it is forgotten (404). */
  expiresAt?: number;
}

export interface JobStoreOptions {
  /** How long a finished /run job stays readable (RunPod: 30 min). */
  runRetentionMs?: number;
  /** How long a finished /runsync job stays readable (RunPod: 1 min). */
  runsyncRetentionMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

export interface JobCounters {
  completed: number;
  failed: number;
  retried: number;
}

/**
 * Events: "queued" (endpointId), "change" (job), "stream" (job), "stop" (job: cancelled
 * or timed out while a worker held it; the executor must stop it).
 */
export class JobStore extends EventEmitter {
  private readonly jobs = new Map<string, Job>();
  /** Queued job ids per endpoint, oldest first (a Set keeps insertion order and drops a cancelled job at once). */
  private readonly queues = new Map<string, Set<string>>();
  /** Ids of IN_PROGRESS jobs per endpoint, so /health and the worker manager need not scan every job. */
  private readonly running = new Map<string, Set<string>>();
  private readonly counters = new Map<string, JobCounters>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  readonly runRetentionMs: number;
  readonly runsyncRetentionMs: number;
  readonly now: () => number;

  constructor(options: JobStoreOptions = {}) {
    super();
    // Many long-polls may wait on one store at once.
    this.setMaxListeners(0);
    this.runRetentionMs = options.runRetentionMs ?? 30 * 60_000;
    this.runsyncRetentionMs = options.runsyncRetentionMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  submit(endpoint: JobEndpoint, input: unknown, origin: Job["origin"], policy: { executionTimeout?: number; ttl?: number } = {}, webhook?: string): Job {
    const job: Job = {
      id: `${randomUUID()}-u1`,
      endpointId: endpoint.id,
      input,
      status: "IN_QUEUE",
      origin,
      createdAt: this.now(),
      stream: [],
      streamRead: 0,
      executionTimeoutMs: policy.executionTimeout ?? endpoint.executionTimeoutMs,
      ttlMs: policy.ttl,
      retries: 0,
      ...(webhook !== undefined ? { webhook } : {}),
    };
    this.jobs.set(job.id, job);
    this.enqueue(job);
    if (job.ttlMs !== undefined) {
      // TTL counts queue and run time: a job not finished by then is dropped.
      this.addTimer(job.id, job.ttlMs, () => {
        if (!isFinal(job.status)) this.stop(job, "CANCELLED");
        this.forget(job.id);
      });
    }
    return job;
  }

  get(jobId: string): Job | undefined {
    return this.jobs.get(jobId);
  }

  /** Jobs of one endpoint (or all), oldest first; for inspection. */
  list(endpointId?: string): Job[] {
    return [...this.jobs.values()].filter((j) => endpointId === undefined || j.endpointId === endpointId);
  }

  queueLength(endpointId: string): number {
    return this.queues.get(endpointId)?.size ?? 0;
  }

  countersOf(endpointId: string): JobCounters {
    let c = this.counters.get(endpointId);
    if (!c) {
      c = { completed: 0, failed: 0, retried: 0 };
      this.counters.set(endpointId, c);
    }
    return c;
  }

  inProgress(endpointId: string): number {
    return this.running.get(endpointId)?.size ?? 0;
  }

  /** The endpoint's IN_PROGRESS jobs. */
  runningJobs(endpointId: string): Job[] {
    return [...(this.running.get(endpointId) ?? [])].map((id) => this.jobs.get(id)!);
  }

  /** A worker takes the oldest queued job of the endpoint, or undefined when there is none. */
  take(endpointId: string, workerId: string): Job | undefined {
    const queue = this.queues.get(endpointId);
    for (const id of queue ?? []) {
      queue!.delete(id);
      const job = this.jobs.get(id);
      if (!job || job.status !== "IN_QUEUE") continue;
      this.setOf(this.running, endpointId).add(id);
      job.status = "IN_PROGRESS";
      job.startedAt = this.now();
      job.workerId = workerId;
      this.addTimer(job.id, job.executionTimeoutMs, () => {
        if (job.status === "IN_PROGRESS") this.stop(job, "TIMED_OUT");
      });
      this.emit("change", job);
      return job;
    }
    return undefined;
  }

  appendStream(jobId: string, chunk: unknown): boolean {
    const job = this.jobs.get(jobId);
    // Chunks of a job that was cancelled or timed out are dropped, as RunPod does.
    if (!job || job.status !== "IN_PROGRESS") return false;
    job.stream.push(chunk);
    this.emit("stream", job);
    return true;
  }

  complete(jobId: string, output: unknown): boolean {
    return this.finish(jobId, "COMPLETED", { output });
  }

  fail(jobId: string, error: string, output?: unknown): boolean {
    return this.finish(jobId, "FAILED", { error, output });
  }

  /** POST /cancel: a queued or running job becomes CANCELLED; a final job stays as it is. */
  cancel(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    if (job && !isFinal(job.status)) this.stop(job, "CANCELLED");
    return job;
  }

  /** POST /retry: only FAILED and TIMED_OUT jobs go back to the queue. */
  retry(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    if (!job || (job.status !== "FAILED" && job.status !== "TIMED_OUT")) return undefined;
    this.clearTimers(job.id);
    job.status = "IN_QUEUE";
    job.retries += 1;
    job.output = undefined;
    job.error = undefined;
    job.startedAt = undefined;
    job.finishedAt = undefined;
    job.expiresAt = undefined;
    job.workerId = undefined;
    job.stream = [];
    job.streamRead = 0;
    this.countersOf(job.endpointId).retried += 1;
    this.enqueue(job);
    return job;
  }

  /** POST /purge-queue: queued jobs are dropped; running ones are left alone. */
  purgeQueue(endpointId: string): number {
    const queue = [...(this.queues.get(endpointId) ?? [])];
    for (const id of queue) this.forget(id);
    return queue.length;
  }

  /** Resolves with the job once `done(job)` holds, or after `waitMs` with its state then (undefined: gone). */
  waitFor(jobId: string, done: (job: Job) => boolean, waitMs: number, signal?: AbortSignal): Promise<Job | undefined> {
    const initial = this.jobs.get(jobId);
    if (!initial || done(initial) || waitMs <= 0) return Promise.resolve(initial);
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.off("change", onChange);
        this.off("stream", onChange);
        this.off("closing", finish);
        signal?.removeEventListener("abort", finish);
        resolve(this.jobs.get(jobId));
      };
      const onChange = (job: Job): void => {
        if (job.id === jobId && done(job)) finish();
      };
      const timer = setTimeout(finish, waitMs);
      this.on("change", onChange);
      this.on("stream", onChange);
      this.once("closing", finish);
      signal?.addEventListener("abort", finish);
    });
  }

  /** Ends every pending wait (long polls answer at once) and every timer. */
  close(): void {
    this.emit("closing");
    for (const id of [...this.timers.keys()]) this.clearTimers(id);
    this.removeAllListeners();
  }

  private enqueue(job: Job): void {
    this.setOf(this.queues, job.endpointId).add(job.id);
    this.emit("change", job);
    this.emit("queued", job.endpointId);
  }

  private stop(job: Job, status: "CANCELLED" | "TIMED_OUT"): void {
    const wasRunning = job.status === "IN_PROGRESS";
    this.finish(job.id, status, {});
    if (wasRunning) this.emit("stop", job);
  }

  private finish(jobId: string, status: JobStatus, result: { output?: unknown; error?: string }): boolean {
    const job = this.jobs.get(jobId);
    // A worker that reports after a cancel or a timeout does not resurrect the job.
    if (!job || isFinal(job.status)) return false;
    this.clearTimers(job.id);
    this.queues.get(job.endpointId)?.delete(job.id);
    this.running.get(job.endpointId)?.delete(job.id);
    job.status = status;
    job.finishedAt = this.now();
    if (result.output !== undefined) job.output = result.output;
    if (result.error !== undefined) job.error = result.error;
    if (status === "COMPLETED") this.countersOf(job.endpointId).completed += 1;
    if (status === "FAILED" || status === "TIMED_OUT") this.countersOf(job.endpointId).failed += 1;
    const retention = job.origin === "runsync" ? this.runsyncRetentionMs : this.runRetentionMs;
    job.expiresAt = job.finishedAt + retention;
    this.addTimer(job.id, retention, () => this.forget(job.id));
    this.emit("change", job);
    return true;
  }

  private forget(jobId: string): void {
    this.clearTimers(jobId);
    const job = this.jobs.get(jobId);
    if (!job) return;
    this.queues.get(job.endpointId)?.delete(jobId);
    this.running.get(job.endpointId)?.delete(jobId);
    this.jobs.delete(jobId);
  }

  private setOf(map: Map<string, Set<string>>, endpointId: string): Set<string> {
    let set = map.get(endpointId);
    if (!set) {
      set = new Set();
      map.set(endpointId, set);
    }
    return set;
  }

  private addTimer(jobId: string, ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    // Long retentions must not keep a test process alive.
    timer.unref();
    const list = this.timers.get(jobId) ?? [];
    list.push(timer);
    this.timers.set(jobId, list);
  }

  private clearTimers(jobId: string): void {
    for (const t of this.timers.get(jobId) ?? []) clearTimeout(t);
    this.timers.delete(jobId);
  }
}
