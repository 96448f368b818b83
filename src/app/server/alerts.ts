// Alerts of this pod: the plan's three (a cold start over 30 s, an error rate over 5 %, the volume over 80 % full),
// computed from what happened recently here, plus the budget (the month's projected spend over budgetMonthlyUsd,
// from spend.ts). /api/health shows them; AlertNotifier delivers them to a person (ALERT_WEBHOOK_URL), once per
// episode: an alert that stays on is not sent again until it has cleared and come back.

export const ALERT_THRESHOLDS = {
  coldStartSeconds: 30,
  errorRate: 0.05,
  storageUsedRatio: 0.8,
  /** Chats older than this do not count. */
  windowMs: 15 * 60 * 1000,
};

export interface Alert {
  name: "cold-start" | "error-rate" | "storage" | "budget";
  message: string;
}

interface Outcome {
  at: number;
  ok: boolean;
  coldStartSeconds?: number;
}

export class RecentChats {
  private outcomes: Outcome[] = [];

  /** `more`: alerts from elsewhere (the budget), added to the ones computed here. */
  constructor(private readonly now: () => number = Date.now, private readonly more: () => Alert[] = () => []) {}

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
    out.push(...this.more());
    return out;
  }
}

/** What the webhook receives: `text` (Slack, ntfy), `content` (Discord), and the alert itself for machines. */
export interface AlertMessage {
  text: string;
  content: string;
  alert: Alert & { status: "firing"; since: string };
  source: "metahuman-web";
}

export interface AlertNotifierOptions {
  url: string;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Where a failed delivery is said (never with the URL, which carries a token). */
  warn?: (message: string) => void;
  timeoutMs?: number;
}

/**
 * Sends each alert once per episode: when it appears among the current alerts and was not there at the last
 * update. A delivery that fails is tried again at the next update (the episode counts as sent only once delivered).
 */
export class AlertNotifier {
  private readonly active = new Set<Alert["name"]>();
  private readonly sending = new Set<Alert["name"]>();

  constructor(private readonly options: AlertNotifierOptions) {}

  /** Call with the alerts that hold now; returns the names sent by this call. */
  async update(alerts: Alert[]): Promise<Alert["name"][]> {
    const now = new Set(alerts.map((a) => a.name));
    for (const name of [...this.active]) if (!now.has(name)) this.active.delete(name);
    const fresh = alerts.filter((a) => !this.active.has(a.name) && !this.sending.has(a.name));
    const sent = await Promise.all(fresh.map(async (alert) => {
      this.sending.add(alert.name);
      try {
        return (await this.deliver(alert)) ? alert.name : undefined;
      } finally {
        this.sending.delete(alert.name);
      }
    }));
    const names = sent.filter((n): n is Alert["name"] => n !== undefined);
    for (const name of names) if (now.has(name)) this.active.add(name);
    return names;
  }

  private async deliver(alert: Alert): Promise<boolean> {
    const since = (this.options.now?.() ?? new Date()).toISOString();
    const text = `MetaHuman alert (${alert.name}): ${alert.message}`;
    const body: AlertMessage = { text, content: text, alert: { ...alert, status: "firing", since }, source: "metahuman-web" };
    try {
      const response = await (this.options.fetch ?? fetch)(this.options.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return true;
      this.options.warn?.(`the alert webhook answered HTTP ${response.status} for the ${alert.name} alert; it is tried again at the next check`);
    } catch (error) {
      this.options.warn?.(`the alert webhook could not be reached for the ${alert.name} alert (${error instanceof Error ? error.name : "error"}); it is tried again at the next check`);
    }
    return false;
  }
}
