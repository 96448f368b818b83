// Runs real RunPod SDK worker processes (handler/handler.py) for the emulator's
// endpoints: starts one when jobs queue (up to workersMax), stops it after the
// idle timeout (scale to zero), so cold starts and /health's worker states are real.
// Workers speak the worker protocol of worker-protocol.ts on loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isFinal, type EndpointLookup, type Job, type JobStore } from "./job-store";
import type { ReportedWorker } from "./rest-state";
import { noWorkers, workerSecondsFrom, type JobExecutor, type WorkerCounts, type WorkerLifeEvent } from "./job-executor";

export interface WorkerManagerOptions {
  /** Python of the worker venv. Default `.venv/bin/python` under cwd. */
  python?: string;
  /** The handler script. Default `handler/handler.py` under cwd. */
  handler?: string;
  /** The repository: where `python` and `handler` are found by default. Default process.cwd(). */
  cwd?: string;
  /** Overrides the endpoint's idleTimeout (s) so tests can watch scale-to-zero quickly. */
  idleTimeoutMs?: number;
  /**
   * What this machine must change in the endpoint's env, by name (e.g. ENGINE=echo: no GPU or vLLM here; an
   * HF_HUB_CACHE on this disk), plus test settings (ECHO_TOKEN_DELAY_MS). Each worker gets its endpoint's env as
   * RunPod hands it, then these; see `workerEnv`.
   */
  env?: Record<string, string>;
  /** Copy worker output to this process's stderr. */
  log?: boolean;
}

interface WorkerProcess {
  id: string;
  endpointId: string;
  child: ChildProcess;
  startedAt: number;
  /** Set by the first job-take or ping: the worker finished its cold start. */
  readyAt?: number;
  lastActive: number;
  jobs: number;
  stopping?: boolean;
  /** Last lines of output, for error messages. */
  tail: string[];
  exited: Promise<void>;
}

export class WorkerManager extends EventEmitter implements JobExecutor {
  readonly kind = "workers" as const;
  private readonly procs = new Map<string, WorkerProcess>();
  private readonly events: WorkerLifeEvent[] = [];
  private readonly sweep: NodeJS.Timeout;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly endpoints: EndpointLookup,
    /** The emulator's origin (`http://127.0.0.1:PORT`), known once it listens. */
    private readonly origin: () => string,
    private readonly apiKey: string,
    private readonly options: WorkerManagerOptions = {},
  ) {
    super();
    store.on("queued", this.onQueued);
    store.on("change", this.onJobChange);
    this.sweep = setInterval(() => this.stopIdle(), 100);
    this.sweep.unref();
  }

  workers(endpointId: string): WorkerCounts {
    const counts = noWorkers();
    for (const w of this.procs.values()) {
      if (w.endpointId !== endpointId) continue;
      if (!w.readyAt) {
        counts.initializing += 1;
        continue;
      }
      counts.ready += 1;
      if (this.busy(w)) counts.running += 1;
      else counts.idle += 1;
    }
    return counts;
  }

  /** The endpoint's live workers as REST v2 lists them (GET /v2/serverless/{id}/workers). */
  reported(endpointId: string): ReportedWorker[] {
    const now = this.store.now();
    return [...this.procs.values()]
      .filter((w) => w.endpointId === endpointId)
      .map((w) => ({
        id: w.id,
        status: !w.readyAt ? "INITIALIZING" : this.busy(w) ? "RUNNING" : "IDLE",
        isStale: false,
        // A local process with the echo engine: no GPU.
        gpuCount: 0,
        uptimeSeconds: Math.floor((now - w.startedAt) / 1000),
        startedAt: new Date(w.startedAt).toISOString(),
      }));
  }

  /** Live worker processes (all endpoints, or one). */
  processCount(endpointId?: string): number {
    return [...this.procs.values()].filter((w) => endpointId === undefined || w.endpointId === endpointId).length;
  }

  lifeEvents(): readonly WorkerLifeEvent[] {
    return this.events;
  }

  workerSeconds(endpointId: string): number {
    return workerSecondsFrom(this.events, endpointId, this.store.now());
  }

  /** The worker protocol calls this on every request of a worker: it is up (cold start over) and alive. */
  seen(workerId: string, active: boolean): void {
    const w = this.procs.get(workerId);
    if (!w) return;
    const now = this.store.now();
    if (w.readyAt === undefined) {
      // Idle counts from the end of the cold start: a start slower than the idle timeout must not get the
      // worker stopped at its first ping, before it took the job it was started for.
      w.readyAt = now;
      w.lastActive = now;
    }
    if (active) w.lastActive = now;
  }

  /** Whether a worker may take jobs: not one being stopped (scale to zero, close), whose jobs would fail with it. */
  accepts(workerId: string): boolean {
    return this.procs.get(workerId)?.stopping !== true;
  }

  jobFinished(workerId: string): void {
    const w = this.procs.get(workerId);
    if (!w) return;
    w.jobs += 1;
    w.lastActive = this.store.now();
  }

  /** The last lines a live worker printed (its SDK and handler logs). */
  outputOf(workerId: string): readonly string[] {
    return this.procs.get(workerId)?.tail ?? [];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    this.store.off("queued", this.onQueued);
    this.store.off("change", this.onJobChange);
    await Promise.all([...this.procs.values()].map((w) => this.stop(w)));
  }

  private busy(w: WorkerProcess): boolean {
    return this.store.runningJobs(w.endpointId).some((j) => j.workerId === w.id);
  }

  /**
   * A worker is idle from the moment its last job ended, however it ended: a job cancelled or timed out after
   * running longer than the idle timeout must not leave its worker looking idle since it took the job.
   */
  private readonly onJobChange = (job: Job): void => {
    if (!job.workerId || !isFinal(job.status)) return;
    const w = this.procs.get(job.workerId);
    if (w) w.lastActive = this.store.now();
  };

  private readonly onQueued = (endpointId: string): void => {
    setImmediate(() => this.scale(endpointId));
  };

  private scale(endpointId: string): void {
    if (this.closed) return;
    const endpoint = this.endpoints(endpointId);
    if (!endpoint) return;
    const mine = [...this.procs.values()].filter((w) => w.endpointId === endpointId);
    const free = mine.filter((w) => !w.readyAt || !this.busy(w)).length;
    // Idle workers are long-polling job-take and pick the job up themselves.
    if (mine.length < endpoint.workersMax && free < this.store.queueLength(endpointId)) this.start(endpointId);
  }

  private start(endpointId: string): void {
    const cwd = this.options.cwd ?? process.cwd();
    const id = `worker-${endpointId}-${this.nextId++}-${process.pid}`;
    const base = `${this.origin()}/_worker/${encodeURIComponent(endpointId)}`;
    const { env: declared, overridden } = workerEnv(this.endpoints(endpointId)?.env ?? {}, this.options.env ?? {});
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? cwd,
      LANG: process.env.LANG ?? "C.UTF-8",
      ...declared,
      // Production-mode SDK loop, every URL on loopback; the fitness checks would contact 8.8.8.8.
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      RUNPOD_SKIP_GPU_CHECK: "true",
      RUNPOD_POD_ID: id,
      RUNPOD_ENDPOINT_ID: endpointId,
      RUNPOD_AI_API_KEY: this.apiKey,
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID?gpu=local`,
      RUNPOD_PING_INTERVAL: "1000",
    };
    const python = this.options.python ?? path.join(cwd, ".venv/bin/python");
    // Each worker in a folder of its own: the SDK keeps its jobs-in-progress file (.runpod_jobs.pkl) in its working
    // directory and loads it at start, so workers sharing one would take over each other's jobs (and litter the repo).
    const workDir = mkdtempSync(path.join(tmpdir(), "runpod-worker-"));
    const child = spawn(python, ["-u", this.options.handler ?? path.join(cwd, "handler/handler.py")], {
      cwd: workDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: the SDK forks a ping process that must die with the worker.
      detached: true,
    });
    const worker: WorkerProcess = { id, endpointId, child, startedAt: this.store.now(), lastActive: this.store.now(), jobs: 0, tail: [], exited: Promise.resolve() };
    // First line of its output: which of the endpoint's settings this machine changed, by name.
    worker.tail.push(`emulator: endpoint env given to the worker; overridden here: ${overridden.length > 0 ? overridden.map((n) => `${n}=${JSON.stringify(env[n])}`).join(", ") : "none"}`);
    worker.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void worker.exited.then(() => rmSync(workDir, { recursive: true, force: true }));
    const onOutput = (data: Buffer): void => {
      const lines = data.toString("utf8").split("\n").filter(Boolean);
      worker.tail.push(...lines);
      worker.tail.splice(0, Math.max(0, worker.tail.length - 400));
      if (this.options.log) for (const l of lines) process.stderr.write(`[${id}] ${l}\n`);
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    child.once("error", (err) => worker.tail.push(`spawn failed: ${err.message}`));
    child.once("exit", (code, signal) => this.onExit(worker, code, signal));
    this.procs.set(id, worker);
    this.events.push({ endpointId, workerId: id, type: "start", at: this.store.now(), jobs: 0 });
    this.emit("worker", this.events.at(-1));
  }

  private onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.procs.delete(worker.id)) return;
    this.events.push({ endpointId: worker.endpointId, workerId: worker.id, type: "stop", at: this.store.now(), jobs: worker.jobs });
    this.emit("worker", this.events.at(-1));
    // Jobs the worker held cannot finish any more: fail them with what the worker last said.
    for (const job of this.store.runningJobs(worker.endpointId)) {
      if (job.workerId === worker.id) {
        this.store.fail(job.id, `worker ${worker.id} exited (code ${code}, signal ${signal}): ${worker.tail.slice(-3).join(" | ")}`);
      }
    }
    // Queued work may still need a worker.
    if (!this.closed && this.store.queueLength(worker.endpointId) > 0) this.scale(worker.endpointId);
  }

  private stopIdle(): void {
    const now = this.store.now();
    for (const w of [...this.procs.values()]) {
      const endpoint = this.endpoints(w.endpointId);
      const idleMs = this.options.idleTimeoutMs ?? (endpoint?.idleTimeout ?? 5) * 1000;
      const alive = this.processCount(w.endpointId);
      if (!w.stopping && w.readyAt && !this.busy(w) && now - w.lastActive >= idleMs && alive > (endpoint?.workersMin ?? 0)) {
        void this.stop(w);
      }
    }
  }

  /** SIGTERM to the worker's process group, then SIGKILL if it has not exited within 3 s. */
  private async stop(w: WorkerProcess): Promise<void> {
    if (w.stopping || w.child.exitCode !== null || w.child.signalCode !== null) return w.exited;
    w.stopping = true;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (w.child.pid !== undefined) process.kill(-w.child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    signalGroup("SIGTERM");
    const killer = setTimeout(() => signalGroup("SIGKILL"), 3000);
    await w.exited;
    clearTimeout(killer);
    // The ping process may outlive its parent by a moment: make sure the group is gone.
    signalGroup("SIGKILL");
  }
}

/** Names the emulator owns in a worker's env: the worker protocol and the SDK's safety switches for local runs. */
const PROTOCOL_ENV = /^RUNPOD_/;

/**
 * A worker's env as RunPod builds it (the endpoint's declared env), then what cannot hold on this machine, by name:
 * ENGINE=echo unless the emulator's own settings name another, and each of those settings. `overridden` lists the
 * endpoint's names that were changed (logged at each start), so a value in the stack that differs here is visible.
 */
export function workerEnv(declared: Record<string, string>, local: Record<string, string>): { env: Record<string, string>; overridden: string[] } {
  const own = Object.fromEntries(Object.entries(declared).filter(([name]) => !PROTOCOL_ENV.test(name)));
  const overrides: Record<string, string> = { ENGINE: "echo", ...local };
  const overridden = Object.keys(own).filter((name) => name in overrides && own[name] !== overrides[name]);
  return { env: { ...own, ...overrides }, overridden };
}
