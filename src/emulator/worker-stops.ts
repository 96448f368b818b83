// The stops the emulator owes each worker: a job cancelled or timed out while a worker held it must
// reach that worker through its job-stop long poll. A stop can reach the SDK in the moment between
// taking a job and starting its task, when the SDK finds nothing to stop; so each stop is sent again
// a little later, a few times (REDELIVER_MS after it was first due).
import type { ServerResponse } from "node:http";
import type { Job, JobStore } from "./job-store";

const REDELIVER_MS = [0, 250, 1000, 3000];

interface PendingStop {
  jobId: string;
  due: number;
  sent: number;
}

export class WorkerStops {
  private readonly pending = new Map<string, PendingStop[]>();
  /** A job-stop poll waiting per worker: woken when a stop for it comes. */
  private readonly waiters = new Map<string, () => void>();

  constructor(private readonly store: JobStore) {
    store.on("stop", (job: Job) => {
      if (!job.workerId) return;
      const list = this.pending.get(job.workerId) ?? [];
      list.push({ jobId: job.id, due: Date.now(), sent: 0 });
      this.pending.set(job.workerId, list);
      this.waiters.get(job.workerId)?.();
    });
  }

  /** The job ids to send a worker now, waiting up to `waitMs` (or until the next redelivery) when none is due. */
  async take(workerId: string, waitMs: number, res: ServerResponse): Promise<string[]> {
    const due = this.due(workerId);
    if (due.ids.length > 0) return due.ids;
    const untilNext = due.nextDue !== undefined ? Math.max(0, due.nextDue - Date.now()) : waitMs;
    await this.wait(workerId, Math.min(waitMs, untilNext), res);
    return this.due(workerId).ids;
  }

  /** Stops due now; each is rescheduled until it was sent REDELIVER_MS.length times. */
  private due(workerId: string): { ids: string[]; nextDue?: number } {
    const list = this.pending.get(workerId) ?? [];
    const now = Date.now();
    const ids: string[] = [];
    let nextDue: number | undefined;
    const left: PendingStop[] = [];
    for (const stop of list) {
      if (stop.due <= now) {
        ids.push(stop.jobId);
        stop.sent += 1;
        if (stop.sent >= REDELIVER_MS.length) continue;
        stop.due = now + REDELIVER_MS[stop.sent]! - REDELIVER_MS[stop.sent - 1]!;
      }
      left.push(stop);
      nextDue = Math.min(nextDue ?? stop.due, stop.due);
    }
    if (left.length > 0) this.pending.set(workerId, left);
    else this.pending.delete(workerId);
    return { ids, ...(nextDue !== undefined ? { nextDue } : {}) };
  }

  /** Resolves after `ms`, when a stop for the worker comes, when the emulator closes, or when the worker hangs up. */
  private wait(workerId: string, ms: number, res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.waiters.get(workerId) === finish) this.waiters.delete(workerId);
        this.store.off("closing", finish);
        res.off("close", finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.waiters.set(workerId, finish);
      this.store.once("closing", finish);
      res.once("close", finish);
    });
  }
}
