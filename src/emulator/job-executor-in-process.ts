// An in-process stand-in for serverless workers, for unit tests only (`npm run local`
// and `npm run emulator` run real SDK workers): same queue, same scale-up and
// scale-to-zero rules as the real worker manager, but the "handler" is a function.
// The default handler answers exactly like the real echo worker (echo-worker.ts:
// same input validation, error texts and output shapes, max_tokens honoured; a
// parity test holds them equal); cold start, pacing and custom handlers are
// configurable so tests can reproduce what real endpoints do without processes.
import { EventEmitter } from "node:events";
import type { EndpointLookup, Job, JobStore } from "./job-store";
import { noWorkers, workerSecondsFrom, type JobExecutor, type WorkerCounts, type WorkerLifeEvent } from "./job-executor";
import { echoWorkerJob, tokensIn, type EchoWorkerSettings } from "./echo-worker";
import { sleep } from "../common/http";

export interface InProcessJobContext {
  /** Aborted when the job is cancelled or times out. */
  signal: AbortSignal;
  /** Streams one chunk (one `yield` of a generator handler). */
  stream(chunk: unknown): void;
}

/**
 * Returns the output; throwing or returning `{error}` fails the job. As the SDK does with a plain
 * handler's dict, `error` is taken out and what else the dict holds stays the job's output.
 */
export type InProcessHandler = (job: { id: string; input: unknown }, ctx: InProcessJobContext) => Promise<unknown>;

export interface InProcessExecutorOptions {
  /** Time a new worker spends initializing before it takes jobs (cold start). Default 0. */
  coldStartMs?: number;
  /** Extra time the default echo handler spends on each job, spread over its outputs. Default 0. */
  latencyMs?: number;
  /** The default echo handler's pause before each word, as the worker's ECHO_TOKEN_DELAY_MS. Default 0. */
  tokenDelayMs?: number;
  /** The default echo handler's worker settings (MODEL_NAME, MODEL_ALIASES, MAX_MODEL_LEN, ...). */
  worker?: EchoWorkerSettings;
  /** Overrides the endpoint's idleTimeout (s) so tests can watch scale-to-zero quickly. */
  idleTimeoutMs?: number;
  /** The job body; defaults to an echo of the worker contract. */
  handler?: InProcessHandler;
}

interface FakeWorker {
  id: string;
  endpointId: string;
  state: "initializing" | "idle" | "running";
  jobs: number;
  current?: { jobId: string; abort: AbortController };
  idleTimer?: NodeJS.Timeout;
}


/**
 * The real echo worker's answers (handler/handler.py with ENGINE=echo): every yield is streamed, as the
 * SDK posts each yield of a generator handler, and the output is the list of all yields; bad input
 * fails the job with the worker's own error text.
 */
export function echoHandler(options: Pick<InProcessExecutorOptions, "latencyMs" | "tokenDelayMs" | "worker"> = {}): InProcessHandler {
  return async (job, ctx) => {
    const result = echoWorkerJob(job, options.worker);
    if ("error" in result) return { error: result.error };
    const perOutputMs = result.outputs.length > 0 ? (options.latencyMs ?? 0) / result.outputs.length : 0;
    let tokens = 0;
    for (const output of result.outputs) {
      const words = tokensIn(output, tokens);
      tokens += words;
      const waitMs = perOutputMs + words * (options.tokenDelayMs ?? 0);
      if (waitMs > 0) await sleep(waitMs, ctx.signal);
      ctx.stream(output);
    }
    return result.outputs;
  };
}

export class InProcessExecutor extends EventEmitter implements JobExecutor {
  readonly kind = "in-process" as const;
  private readonly workersById = new Map<string, FakeWorker>();
  private readonly events: WorkerLifeEvent[] = [];
  private readonly handler: InProcessHandler;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly endpoints: EndpointLookup,
    private readonly options: InProcessExecutorOptions = {},
  ) {
    super();
    this.handler = options.handler ?? echoHandler(options);
    store.on("queued", this.onQueued);
    store.on("stop", this.onStop);
  }

  workers(endpointId: string): WorkerCounts {
    const counts = noWorkers();
    for (const w of this.workersById.values()) {
      if (w.endpointId !== endpointId) continue;
      counts[w.state] += 1;
      if (w.state !== "initializing") counts.ready += 1;
    }
    return counts;
  }

  lifeEvents(): readonly WorkerLifeEvent[] {
    return this.events;
  }

  workerSeconds(endpointId: string): number {
    return workerSecondsFrom(this.events, endpointId, this.store.now());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.store.off("queued", this.onQueued);
    this.store.off("stop", this.onStop);
    for (const w of [...this.workersById.values()]) {
      w.current?.abort.abort(new Error("emulator closing"));
      this.stopWorker(w);
    }
  }

  // Deferred: a job is IN_QUEUE when /run answers, even if a worker is idle, as on RunPod.
  private readonly onQueued = (endpointId: string): void => {
    setImmediate(() => this.dispatch(endpointId));
  };

  private dispatch(endpointId: string): void {
    if (this.closed) return;
    const idle = [...this.workersById.values()].find((w) => w.endpointId === endpointId && w.state === "idle");
    if (idle) {
      void this.work(idle);
      return;
    }
    const endpoint = this.endpoints(endpointId);
    const up = [...this.workersById.values()].filter((w) => w.endpointId === endpointId);
    const starting = up.filter((w) => w.state === "initializing").length;
    // Scale up only while the queue is longer than the workers already starting for it.
    if (endpoint && up.length < endpoint.workersMax && starting < this.store.queueLength(endpointId)) {
      void this.startWorker(endpointId);
    }
  }

  private readonly onStop = (job: Job): void => {
    for (const w of this.workersById.values()) {
      if (w.current?.jobId === job.id) w.current.abort.abort(new Error(`job ${job.status}`));
    }
  };

  private async startWorker(endpointId: string): Promise<void> {
    const worker: FakeWorker = { id: `inproc-${this.nextId++}`, endpointId, state: "initializing", jobs: 0 };
    this.workersById.set(worker.id, worker);
    this.events.push({ endpointId, workerId: worker.id, type: "start", at: this.store.now(), jobs: 0 });
    this.emit("worker", this.events.at(-1));
    if (this.options.coldStartMs) await sleep(this.options.coldStartMs);
    if (!this.workersById.has(worker.id)) return;
    worker.state = "idle";
    await this.work(worker);
  }

  private async work(worker: FakeWorker): Promise<void> {
    clearTimeout(worker.idleTimer);
    for (;;) {
      if (this.closed || !this.workersById.has(worker.id)) return;
      const job = this.store.take(worker.endpointId, worker.id);
      if (!job) break;
      worker.state = "running";
      const abort = new AbortController();
      worker.current = { jobId: job.id, abort };
      try {
        const output = await this.handler(
          { id: job.id, input: job.input },
          { signal: abort.signal, stream: (chunk) => this.store.appendStream(job.id, chunk) },
        );
        const failure = failureOf(output);
        if (failure) this.store.fail(job.id, failure.error, failure.output);
        else this.store.complete(job.id, output);
      } catch (err) {
        // The SDK reports a raised exception as a JSON string of type and message.
        const e = err instanceof Error ? err : new Error(String(err));
        if (!abort.signal.aborted) this.store.fail(job.id, JSON.stringify({ error_type: e.name, error_message: e.message }));
      }
      worker.jobs += 1;
      worker.current = undefined;
      worker.state = "idle";
    }
    const endpoint = this.endpoints(worker.endpointId);
    const idleMs = this.options.idleTimeoutMs ?? (endpoint?.idleTimeout ?? 5) * 1000;
    const keep = endpoint?.workersMin ?? 0;
    worker.idleTimer = setTimeout(() => {
      const alive = [...this.workersById.values()].filter((w) => w.endpointId === worker.endpointId).length;
      if (worker.state === "idle" && alive > keep) this.stopWorker(worker);
    }, idleMs);
    worker.idleTimer.unref();
  }

  private stopWorker(worker: FakeWorker): void {
    if (!this.workersById.delete(worker.id)) return;
    clearTimeout(worker.idleTimer);
    this.events.push({ endpointId: worker.endpointId, workerId: worker.id, type: "stop", at: this.store.now(), jobs: worker.jobs });
    this.emit("worker", this.events.at(-1));
  }
}

/** A plain handler's `{error, ...rest}` the way the SDK reports it: the error, and the rest as output if any. */
function failureOf(output: unknown): { error: string; output?: unknown } | undefined {
  if (typeof output !== "object" || output === null || Array.isArray(output)) return undefined;
  const { error, ...rest } = output as Record<string, unknown>;
  if (!error) return undefined;
  return { error: typeof error === "string" ? error : JSON.stringify(error), ...(Object.keys(rest).length > 0 ? { output: rest } : {}) };
}
