// An in-process stand-in for serverless workers: same queue, same scale-up and
// scale-to-zero rules as the real worker manager, but the "handler" is a function.
// Latency, cold start, streaming and failures are configurable so tests and
// benches can reproduce what real endpoints do without spawning processes.
import { EventEmitter } from "node:events";
import type { EndpointLookup, Job, JobStore } from "./job-store";
import { noWorkers, workerSecondsFrom, type JobExecutor, type WorkerCounts, type WorkerLifeEvent } from "./job-executor";
import { sleep } from "../runpod/http-retry";

export interface InProcessJobContext {
  /** Aborted when the job is cancelled or times out. */
  signal: AbortSignal;
  /** Streams one chunk (one `yield` of a generator handler). */
  stream(chunk: unknown): void;
}

/** Returns the output; throwing or returning `{error}` fails the job. */
export type InProcessHandler = (job: { id: string; input: unknown }, ctx: InProcessJobContext) => Promise<unknown>;

export interface InProcessExecutorOptions {
  /** Time a new worker spends initializing before it takes jobs (cold start). Default 0. */
  coldStartMs?: number;
  /** Time the default echo handler spends on each job. Default 0. */
  latencyMs?: number;
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


/** Echo of the worker contract: `{response, model, usage, finish_reason}`; streams word deltas when `input.stream`. */
export function echoHandler(latencyMs: number): InProcessHandler {
  return async (job, ctx) => {
    const input = (job.input ?? {}) as { messages?: Array<{ role?: string; content?: string }>; stream?: boolean };
    const last = [...(input.messages ?? [])].reverse().find((m) => m.role === "user");
    const response = `echo: ${last?.content ?? ""}`;
    const words = response.split(/(?<= )/);
    if (input.stream) {
      const step = words.length > 0 ? latencyMs / words.length : latencyMs;
      for (const w of words) {
        await sleep(step, ctx.signal);
        ctx.stream({ text: w });
      }
    } else if (latencyMs > 0) {
      await sleep(latencyMs, ctx.signal);
    }
    const prompt = (input.messages ?? []).reduce((n, m) => n + String(m.content ?? "").split(/\s+/).length, 0);
    return {
      response,
      model: "echo",
      usage: { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length },
      finish_reason: "stop",
    };
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
    this.handler = options.handler ?? echoHandler(options.latencyMs ?? 0);
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
        const error = (output as { error?: unknown } | null)?.error;
        if (error) this.store.fail(job.id, typeof error === "string" ? error : JSON.stringify(error), output);
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
