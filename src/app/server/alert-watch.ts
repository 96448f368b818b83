// Delivers this pod's alerts to a person: every ALERT_CHECK_MS (and right after each chat) it reads the volume's
// usage and, when a budget is set, the month's spend (cached, spend.ts), then hands the alerts that hold to the
// AlertNotifier, which POSTs each to ALERT_WEBHOOK_URL once per episode. Without a webhook URL nothing runs.
import type { MetaHumanPaths } from "../paths";
import { AlertNotifier, type Alert, type RecentChats } from "./alerts";
import type { SpendTracker } from "./spend";

export const ALERT_CHECK_MS = 60_000;

export class AlertWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Alert["name"][]> | undefined;
  private readonly notifier: AlertNotifier;

  constructor(
    private readonly deps: { paths: MetaHumanPaths; recentChats: RecentChats; spend: SpendTracker },
    options: { url: string; warn: (message: string) => void; fetch?: typeof fetch; now?: () => Date },
  ) {
    this.notifier = new AlertNotifier({ url: options.url, warn: options.warn, fetch: options.fetch, now: options.now });
  }

  start(intervalMs: number = ALERT_CHECK_MS): void {
    this.timer ??= setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check now; checks never overlap (a second call while one runs waits for it). Returns the alerts sent. */
  check(): Promise<Alert["name"][]> {
    this.running ??= this.run().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async run(): Promise<Alert["name"][]> {
    const usage = await this.deps.paths.storageUsage().catch(() => undefined);
    if (this.deps.spend.budgetMonthlyUsd !== undefined) await this.deps.spend.monthToDate();
    return this.notifier.update(this.deps.recentChats.alerts(usage?.usedRatio));
  }
}
