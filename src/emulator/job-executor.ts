// What runs the emulator's jobs. Both executors take jobs from the same JobStore
// queue: the worker manager (real RunPod SDK worker processes, what `npm run local`
// and `npm run emulator` run) and the in-process one (unit tests only; its default
// handler answers like the real echo worker, see echo-worker.ts). The job API only
// needs their worker counts.

/** The `workers` object of `/health`. */
export interface WorkerCounts {
  /** Up, initialized, and without a job. */
  idle: number;
  /** Starting (cold start): not yet taking jobs. */
  initializing: number;
  /** Up and initialized (idle + running). */
  ready: number;
  /** Up and running at least one job. */
  running: number;
  throttled: number;
  unhealthy: number;
}

/** A worker's life, reported for billing: worker-seconds accrue from startedAt to stoppedAt. */
export interface WorkerLifeEvent {
  endpointId: string;
  workerId: string;
  type: "start" | "stop";
  /** Epoch ms. */
  at: number;
  /** Jobs the worker finished (on "stop"). */
  jobs: number;
}

export interface JobExecutor {
  readonly kind: "in-process" | "workers";
  workers(endpointId: string): WorkerCounts;
  /** Every worker start and stop so far, oldest first. */
  lifeEvents(): readonly WorkerLifeEvent[];
  /** Worker-seconds per endpoint so far (running workers count up to now). */
  workerSeconds(endpointId: string): number;
  /** Every worker start and stop as it happens (billing accrues worker-seconds from "stop"). */
  on(event: "worker", listener: (event: WorkerLifeEvent) => void): this;
  /** Stops every worker; safe to call twice. */
  close(): Promise<void>;
}

export const noWorkers = (): WorkerCounts => ({ idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 });

/** Sums worker-seconds from life events; a worker without a stop counts up to `now`. */
export function workerSecondsFrom(events: readonly WorkerLifeEvent[], endpointId: string, now: number): number {
  const started = new Map<string, number>();
  let ms = 0;
  for (const e of events) {
    if (e.endpointId !== endpointId) continue;
    if (e.type === "start") started.set(e.workerId, e.at);
    else {
      const from = started.get(e.workerId);
      if (from !== undefined) ms += e.at - from;
      started.delete(e.workerId);
    }
  }
  for (const from of started.values()) ms += now - from;
  return ms / 1000;
}
