// The RunPod job API client (api.runpod.ai/v2/{endpointId}/...) behind the
// runpod_serverless LLM provider.
// - Waits with server-side long polls (/status-sync?wait=), falling back to adaptive
//   /status polling, so a finished job is returned within milliseconds, not a poll period.
// - Never leaves a job running: whenever the caller aborts, times out or stops reading
//   a stream, the job is cancelled.
// - Never creates two jobs for one request: POST /run is retried only when the server
//   certainly did not take it (see `retryableSubmit`).
// - Reports progress (queued / cold start / running) from the free /health.
import { z } from "zod";
import { MetaHumanError } from "../common/errors";
import { sendHttp, sleep, withRetries, type HttpFailure } from "../common/http";
import { bodyExcerpt } from "../common/redact";
import {
  ServerlessApiError,
  ServerlessAuthError,
  ServerlessJobFailedError,
  ServerlessRateLimitError,
  ServerlessTimeoutError,
} from "./job-api-errors";
import { readWorkerError } from "./worker-contract";

export const DEFAULT_SERVERLESS_URL = "https://api.runpod.ai/v2";
const FINAL = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

export interface ServerlessClientSettings {
  endpointId: string;
  /** Defaults to RUNPOD_API_KEY, read when the first request is made. */
  apiKey?: string;
  /** Defaults to RUNPOD_SERVERLESS_URL, then https://api.runpod.ai/v2. */
  baseURL?: string;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  /** Retries of a retryable failure. Default 4. */
  maxRetries?: number;
  /** First backoff step; doubles each retry, with full jitter. Default 250 ms. */
  retryBaseMs?: number;
  /** Longest wait between retries, Retry-After included (a longer Retry-After gives up). Default 15 000 ms. */
  maxRetryDelayMs?: number;
  /** `wait` of one /status-sync long poll. Default 30 000 ms (the API allows 1 000–300 000). */
  longPollMs?: number;
  /** With a progress listener, long polls are this short so progress stays current. Default 2 000 ms. */
  progressIntervalMs?: number;
  /** Timeout of one ordinary (not long-poll) request. Default 30 000 ms. */
  requestTimeoutMs?: number;
}

export const jobStatusSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    delayTime: z.number().optional(),
    executionTime: z.number().optional(),
    output: z.unknown().optional(),
    error: z.unknown().optional(),
  })
  .passthrough();
export type JobStatusBody = z.infer<typeof jobStatusSchema>;

const streamBodySchema = z.object({
  status: z.string(),
  stream: z.array(z.object({ output: z.unknown() }).passthrough()).default([]),
  error: z.unknown().optional(),
});

export const healthSchema = z.object({
  jobs: z.object({
    completed: z.number(),
    failed: z.number(),
    inProgress: z.number(),
    inQueue: z.number(),
    retried: z.number(),
  }),
  workers: z.object({
    idle: z.number(),
    initializing: z.number(),
    ready: z.number(),
    running: z.number(),
    throttled: z.number(),
    unhealthy: z.number().optional(),
  }),
});
export type EndpointHealth = z.infer<typeof healthSchema>;

export interface JobProgress {
  stage: "queued" | "cold-start" | "running";
  detail?: string;
}

export interface JobPolicy {
  /** ms; RunPod's minimum is 5 000. */
  executionTimeout?: number;
  /** ms; whole life of the job, queue included. */
  ttl?: number;
}

export interface JobWaitOptions {
  signal?: AbortSignal;
  /** Our deadline for the whole job, queue included. Default 10 min. */
  timeoutMs?: number;
  onProgress?: (progress: JobProgress) => void;
  policy?: JobPolicy;
}

export type JobStreamEvent =
  | { type: "progress"; progress: JobProgress }
  | { type: "chunk"; output: unknown }
  | { type: "done"; job: JobStatusBody };

/** idempotent: every retryable failure is retried; submit (POST /run): only what certainly created no job. */
type RetryMode = "idempotent" | "submit";

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  retry: RetryMode;
  timeoutMs?: number;
}

/** Reads what /health says as a progress stage: the page shows "starting a GPU worker" on a cold start. */
export function progressFromHealth(health: EndpointHealth): JobProgress {
  const w = health.workers;
  const warm = w.ready + w.idle + w.running;
  if (warm === 0 && w.initializing > 0) return { stage: "cold-start", detail: `starting a GPU worker (${w.initializing} initializing)` };
  if (warm === 0 && (w.unhealthy ?? 0) > 0) return { stage: "queued", detail: `${w.unhealthy} worker(s) unhealthy: they may be crash-looping` };
  if (warm === 0 && w.throttled > 0) return { stage: "queued", detail: `${w.throttled} worker(s) throttled: no GPU free in the chosen pools` };
  if (warm === 0) return { stage: "cold-start", detail: "no worker running: one is being scheduled" };
  return { stage: "queued", detail: `${health.jobs.inQueue} job(s) in queue, ${w.running} worker(s) busy` };
}

/** A connection refused never reached the server: nothing was created there. */
function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNREFUSED";
}

export class RunpodServerlessClient {
  private readonly s: Required<Omit<ServerlessClientSettings, "apiKey" | "baseURL" | "headers" | "fetch">> & ServerlessClientSettings;

  constructor(settings: ServerlessClientSettings) {
    if (!settings.endpointId) throw new MetaHumanError({ name: "ServerlessConfigError", message: "endpointId: missing; set RUNPOD_ENDPOINT_ID or pass endpointId" });
    this.s = {
      maxRetries: 4,
      retryBaseMs: 250,
      maxRetryDelayMs: 15_000,
      longPollMs: 30_000,
      progressIntervalMs: 2_000,
      requestTimeoutMs: 30_000,
      ...settings,
    };
  }

  get endpointId(): string {
    return this.s.endpointId;
  }

  /** POST /run: queues a job and returns its id. */
  async submit(input: unknown, options: { policy?: JobPolicy } = {}): Promise<{ id: string; status: string }> {
    const body = await this.request({ method: "POST", path: "/run", body: { input, ...(options.policy ? { policy: options.policy } : {}) }, retry: "submit" });
    return z.object({ id: z.string(), status: z.string() }).passthrough().parse(body);
  }

  async status(jobId: string, signal?: AbortSignal): Promise<JobStatusBody> {
    return jobStatusSchema.parse(await this.request({ method: "GET", path: `/status/${encodeURIComponent(jobId)}`, signal, retry: "idempotent" }));
  }

  /** POST /cancel: cancelling twice is harmless, so it is retried. */
  async cancel(jobId: string): Promise<JobStatusBody> {
    return jobStatusSchema.parse(await this.request({ method: "POST", path: `/cancel/${encodeURIComponent(jobId)}`, retry: "idempotent" }));
  }

  async health(signal?: AbortSignal): Promise<EndpointHealth> {
    return healthSchema.parse(await this.request({ method: "GET", path: "/health", signal, retry: "idempotent" }));
  }

  /** Submits a job and waits for it; resolves with the COMPLETED status body, else throws a typed error. */
  async run(input: unknown, options: JobWaitOptions = {}): Promise<JobStatusBody> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    // POST /run is not given the caller's signal: its answer carries the id we need to cancel the job.
    const { id } = await this.submit(input, { policy: options.policy });
    let finished = false;
    try {
      if (options.onProgress) await this.reportProgress(id, "IN_QUEUE", options.onProgress, undefined);
      const job = await this.waitFinal(id, deadline, options);
      finished = true;
      return this.settle(job);
    } finally {
      if (!finished) await this.cancelQuietly(id);
    }
  }

  /** Submits a job (the input should ask the worker to stream) and yields its progress, chunks, then the final status. */
  async *stream(input: unknown, options: JobWaitOptions = {}): AsyncGenerator<JobStreamEvent> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    const { id } = await this.submit(input, { policy: options.policy });
    let finished = false;
    let lastStage: string | undefined;
    let idleDelay = 0;
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        if (Date.now() > deadline) throw new ServerlessTimeoutError(`job ${id}: no result within ${options.timeoutMs ?? 600_000} ms`, "deadline", id, lastStage);
        // A retried /stream read may lose chunks whose answer was lost in transit; only failures
        // that left the server untouched (429, 5xx before work, refused connections) are retried.
        const body = streamBodySchema.parse(
          await this.request({ method: "GET", path: `/stream/${encodeURIComponent(id)}`, signal: options.signal, retry: "idempotent" }),
        );
        if (body.status !== lastStage) {
          lastStage = body.status;
          const progress = await this.progressOf(body.status, options.signal);
          if (progress) yield { type: "progress", progress };
        }
        for (const chunk of body.stream) yield { type: "chunk", output: chunk.output };
        if (FINAL.includes(body.status)) {
          finished = true;
          const job = body.status === "COMPLETED" ? await this.status(id, options.signal).catch(() => ({ id, status: body.status })) : await this.status(id).catch(() => ({ id, status: body.status, error: body.error }));
          yield { type: "done", job: this.settle(job) };
          return;
        }
        // Servers that answer /stream at once when there is nothing new are polled with a growing pause.
        idleDelay = body.stream.length > 0 ? 0 : Math.min(500, Math.max(20, idleDelay * 2));
        if (idleDelay > 0) await sleep(idleDelay, options.signal);
      }
    } finally {
      // Also runs when the consumer stops iterating (break, return, throw).
      if (!finished) await this.cancelQuietly(id);
    }
  }

  /** Throws the typed error of a final non-COMPLETED job; returns a COMPLETED one. */
  private settle(job: JobStatusBody): JobStatusBody {
    if (job.status === "COMPLETED") return job;
    const message = readWorkerError(job.error);
    if (job.status === "TIMED_OUT") {
      throw new ServerlessTimeoutError(`job ${job.id} hit the endpoint's execution timeout (TIMED_OUT)`, "execution", job.id, job.status);
    }
    throw new ServerlessJobFailedError(
      `job ${job.id} ended ${job.status}${message ? `: ${message}` : ""}`,
      job.id,
      job.status,
      message,
    );
  }

  private async waitFinal(id: string, deadline: number, options: JobWaitOptions): Promise<JobStatusBody> {
    let mode: "long-poll" | "poll" = "long-poll";
    let pollDelay = 25;
    let last = "IN_QUEUE";
    for (;;) {
      options.signal?.throwIfAborted();
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new ServerlessTimeoutError(`job ${id}: no result within the deadline (last status ${last})`, "deadline", id, last);
      let job: JobStatusBody;
      if (mode === "long-poll") {
        const cap = options.onProgress ? this.s.progressIntervalMs : this.s.longPollMs;
        // The API's `wait` is 1 000–300 000 ms.
        const wait = Math.max(1000, Math.min(remaining, cap, 300_000));
        try {
          job = jobStatusSchema.parse(
            await this.request({
              method: "GET",
              path: `/status-sync/${encodeURIComponent(id)}?wait=${wait}`,
              signal: options.signal,
              retry: "idempotent",
              timeoutMs: wait + this.s.requestTimeoutMs,
            }),
          );
        } catch (err) {
          // A gateway without the undocumented long poll: 404/405 while /status still knows the job.
          if (ServerlessApiError.isInstance(err) && (err.status === 404 || err.status === 405)) {
            job = await this.status(id, options.signal);
            mode = "poll";
          } else throw err;
        }
      } else {
        job = await this.status(id, options.signal);
      }
      if (FINAL.includes(job.status)) return job;
      if (job.status !== last && options.onProgress) await this.reportProgress(id, job.status, options.onProgress, options.signal);
      if (mode === "poll") {
        // Adaptive: quick while things change, slower while they do not, never above 1 s.
        pollDelay = job.status !== last ? 25 : Math.min(1000, pollDelay * 1.5);
        await sleep(Math.min(pollDelay, Math.max(0, deadline - Date.now())), options.signal);
      } else if (options.onProgress && job.status === "IN_QUEUE") {
        await this.reportProgress(id, job.status, options.onProgress, options.signal);
      }
      last = job.status;
    }
  }

  private lastProgress = new Map<string, string>();

  private async reportProgress(id: string, status: string, onProgress: (p: JobProgress) => void, signal: AbortSignal | undefined): Promise<void> {
    const progress = await this.progressOf(status, signal);
    if (!progress) return;
    const key = `${progress.stage}|${progress.detail ?? ""}`;
    if (this.lastProgress.get(id) === key) return;
    this.lastProgress.set(id, key);
    onProgress(progress);
  }

  private async progressOf(status: string, signal: AbortSignal | undefined): Promise<JobProgress | undefined> {
    if (status === "IN_PROGRESS") return { stage: "running" };
    if (status !== "IN_QUEUE") return undefined;
    try {
      return progressFromHealth(await this.health(signal));
    } catch (err) {
      if (signal?.aborted) throw err;
      // Progress is advice: a failed /health must not fail the job.
      return { stage: "queued" };
    }
  }

  private async cancelQuietly(id: string): Promise<void> {
    this.lastProgress.delete(id);
    try {
      await this.cancel(id);
    } catch {
      // Best effort: the original error (abort, timeout) is what the caller must see.
    }
  }

  private async request(spec: RequestSpec): Promise<unknown> {
    const apiKey = this.s.apiKey ?? process.env.RUNPOD_API_KEY;
    const base = (this.s.baseURL ?? process.env.RUNPOD_SERVERLESS_URL ?? DEFAULT_SERVERLESS_URL).replace(/\/+$/, "");
    const url = `${base}/${encodeURIComponent(this.s.endpointId)}${spec.path}`;
    if (!apiKey) throw new ServerlessAuthError({ message: "RUNPOD_API_KEY: missing; set it or pass apiKey", url, method: spec.method });
    const answer = await withRetries(
      async () => {
        const response = await sendHttp(
          {
            url,
            method: spec.method,
            headers: { ...this.s.headers, authorization: `Bearer ${apiKey}` },
            body: spec.body,
            signal: spec.signal,
            timeoutMs: spec.timeoutMs ?? this.s.requestTimeoutMs,
            fetch: this.s.fetch,
          },
          (failure) => this.httpError(spec, failure),
        );
        return { status: response.status, text: await response.text() };
      },
      {
        maxRetries: this.s.maxRetries,
        baseDelayMs: this.s.retryBaseMs,
        maxDelayMs: this.s.maxRetryDelayMs,
        signal: spec.signal,
        // 429 means the request was refused, so even POST /run is safe to repeat; so is a connection
        // that was refused. Any other failure of POST /run may come after the job was queued:
        // retrying could create a second job.
        shouldRetry: (error) =>
          error.isRetryable &&
          (spec.retry === "idempotent" || ServerlessRateLimitError.isInstance(error) || neverSent(error.cause)),
      },
    );
    if (!answer.text) return {};
    try {
      return JSON.parse(answer.text);
    } catch {
      const excerpt = bodyExcerpt(answer.text, [apiKey]);
      throw new ServerlessApiError({ message: `${spec.method} ${url}: answer is not JSON: ${excerpt.slice(0, 200)}`, url, method: spec.method, status: answer.status, responseBody: excerpt, isRetryable: false });
    }
  }

  private httpError(spec: RequestSpec, failure: HttpFailure): ServerlessApiError {
    const { url, method } = failure.request;
    const common = { url, method, status: failure.status, responseBody: failure.excerpt, retryAfterMs: failure.retryAfterMs, timedOut: failure.timedOut, cause: failure.cause };
    if (failure.status === undefined) {
      const mayHaveRun = spec.retry === "submit" && !neverSent(failure.cause);
      const why = failure.timedOut ? `no answer within ${failure.request.timeoutMs} ms` : failure.redact(String((failure.cause as Error)?.message ?? failure.cause));
      return new ServerlessApiError({
        ...common,
        message: `${method} ${url} failed before an answer${mayHaveRun ? " (the job may have been created; not retried to avoid a second job)" : ""}: ${why}`,
      });
    }
    const what = `${method} ${url} answered ${failure.status}`;
    const detail = failure.excerpt ?? "";
    if (failure.status === 401 || failure.status === 403) {
      return new ServerlessAuthError({ ...common, message: `${what}: the API key was refused for endpoint ${this.s.endpointId} (check RUNPOD_API_KEY): ${detail}` });
    }
    if (failure.status === 429) {
      const after = failure.retryAfterMs !== undefined ? `, retry after ${failure.retryAfterMs} ms` : "";
      return new ServerlessRateLimitError({ ...common, message: `${what}: rate limited${after}: ${detail}` });
    }
    return new ServerlessApiError({ ...common, message: `${what}: ${detail}` });
  }
}
