// The health route's alerts, computed from what happened recently in this pod.

export const ALERT_THRESHOLDS = {
  coldStartSeconds: 30,
  errorRate: 0.05,
  storageUsedRatio: 0.8,
  /** Chats older than this do not count. */
  windowMs: 15 * 60 * 1000,
};

export interface Alert {
  name: "cold-start" | "error-rate" | "storage";
  message: string;
}

interface Outcome {
  at: number;
  ok: boolean;
  coldStartSeconds?: number;
}

export class RecentChats {
  private outcomes: Outcome[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(ok: boolean, coldStartSeconds?: number): void {
    this.outcomes.push({ at: this.now(), ok, coldStartSeconds });
    this.trim();
  }

  private trim(): void {
    const since = this.now() - ALERT_THRESHOLDS.windowMs;
    while (this.outcomes.length > 0 && (this.outcomes[0]!.at < since || this.outcomes.length > 10_000)) this.outcomes.shift();
  }

  alerts(storageUsedRatio: number | undefined): Alert[] {
    this.trim();
    const out: Alert[] = [];
    const cold = this.outcomes.map((o) => o.coldStartSeconds).filter((s): s is number => s !== undefined);
    const worst = cold.length > 0 ? Math.max(...cold) : 0;
    if (worst > ALERT_THRESHOLDS.coldStartSeconds) {
      out.push({ name: "cold-start", message: `a GPU cold start took ${worst.toFixed(1)} s (over ${ALERT_THRESHOLDS.coldStartSeconds} s) in the last 15 min` });
    }
    const failed = this.outcomes.filter((o) => !o.ok).length;
    if (this.outcomes.length > 0 && failed / this.outcomes.length > ALERT_THRESHOLDS.errorRate) {
      out.push({ name: "error-rate", message: `${failed} of ${this.outcomes.length} chats failed in the last 15 min (over ${ALERT_THRESHOLDS.errorRate * 100} %)` });
    }
    if (storageUsedRatio !== undefined && storageUsedRatio > ALERT_THRESHOLDS.storageUsedRatio) {
      out.push({ name: "storage", message: `the volume is ${(storageUsedRatio * 100).toFixed(1)} % full (over ${ALERT_THRESHOLDS.storageUsedRatio * 100} %)` });
    }
    return out;
  }
}
