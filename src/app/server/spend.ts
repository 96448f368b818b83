// Spend while the stack runs. Per chat: RunPod's job times (delayTime, executionTime) at the GPU rate the stack was
// deployed with (GPU_USD_PER_SECOND) become GPU seconds and dollars. Per month: RunPod's billing API read for the month
// so far (serverless endpoint, web pod, network volumes, public endpoints), projected linearly to the month's end and
// set against the budget (BUDGET_MONTHLY_USD). Billing reads are cached: RunPod rate-limits its API, and the answer
// only moves by the hour.
import { BillingReadError, readBilling, type BillingRequest } from "../../runpod/billing";
import type { WebEnv } from "../env";
import type { Alert } from "./alerts";
import type { AppMetrics } from "./metrics";

/** How long a billing reading is reused. */
export const SPEND_CACHE_MS = 15 * 60 * 1000;
/** Before this much of the month has passed, a linear projection says more about the hour than the month. */
export const MIN_PROJECTION_MS = 24 * 3600 * 1000;

/** One chat's GPU time, from its job's final status. */
export interface JobTimes {
  /** ms from submission until a worker took the job (queue and, when it happened, the worker's cold start). */
  delayMs?: number;
  /** ms the worker ran the job. */
  executionMs?: number;
}

export interface ChatSpend {
  /**
   * GPU seconds billed for this chat, as far as the job tells: execution plus delay. On an endpoint that scales to zero
   * the delay is a worker starting (billed); behind busy workers it is queueing (not billed), so this errs high there.
   */
  gpuSeconds: number;
  usd: number | undefined;
}

export interface MonthToDate {
  startTime: string;
  endTime: string;
  serverlessUsd: number;
  podsUsd: number;
  networkVolumesUsd: number;
  /** RunPod's public endpoints; null when the account's billing API did not answer for them. */
  endpointsUsd: number | null;
  totalUsd: number;
  /** totalUsd × month ÷ elapsed; null in the month's first day (too early to say). */
  projectedMonthUsd: number | null;
  budgetMonthlyUsd: number | null;
  overBudget: boolean;
  readAt: string;
}

export type SpendReading = { ok: true; monthToDate: MonthToDate } | { ok: false; problem: string; readAt: string };

export class SpendTracker {
  private reading: { at: number; value: Promise<SpendReading> } | undefined;
  private settled: SpendReading | undefined;
  readonly chats = { count: 0, gpuSeconds: 0, usd: 0, last: undefined as (ChatSpend & { at: string }) | undefined };

  constructor(
    private readonly env: Pick<WebEnv, "GPU_USD_PER_SECOND" | "BUDGET_MONTHLY_USD" | "RUNPOD_API_KEY" | "RUNPOD_API_URL" | "RUNPOD_ENDPOINT_ID" | "RUNPOD_POD_ID">,
    private readonly now: () => Date = () => new Date(),
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get gpuUsdPerSecond(): number | undefined { return this.env.GPU_USD_PER_SECOND; }
  get budgetMonthlyUsd(): number | undefined { return this.env.BUDGET_MONTHLY_USD; }

  /** The hook the chat route calls once per finished job. */
  recordJob(times: JobTimes): ChatSpend {
    const execution = Math.max(0, times.executionMs ?? 0) / 1000;
    const delay = Math.max(0, times.delayMs ?? 0) / 1000;
    const gpuSeconds = execution + delay;
    const rate = this.env.GPU_USD_PER_SECOND;
    const spend: ChatSpend = { gpuSeconds, usd: rate === undefined ? undefined : gpuSeconds * rate };
    this.chats.count += 1;
    this.chats.gpuSeconds += gpuSeconds;
    this.chats.usd += spend.usd ?? 0;
    this.chats.last = { ...spend, at: this.now().toISOString() };
    return spend;
  }

  /** The last reading that finished, without reading again (for scrapes and alerts). */
  latest(): SpendReading | undefined { return this.settled; }

  /** Month to date from RunPod's billing API, at most once per SPEND_CACHE_MS. */
  monthToDate(force = false): Promise<SpendReading> {
    const at = this.now().getTime();
    if (!force && this.reading && at - this.reading.at < SPEND_CACHE_MS) return this.reading.value;
    const value = this.read(at).then((r) => { this.settled = r; return r; });
    this.reading = { at, value };
    return value;
  }

  /** The budget alert, from the last reading: the month's projection over budgetMonthlyUsd. */
  budgetAlert(): Alert | undefined {
    const r = this.settled;
    if (!r?.ok || !r.monthToDate.overBudget) return undefined;
    const m = r.monthToDate;
    const projected = m.projectedMonthUsd ?? m.totalUsd;
    return {
      name: "budget",
      message: `spend this month is $${m.totalUsd.toFixed(2)} so far, on course for $${projected.toFixed(2)}: over the budget of $${m.budgetMonthlyUsd?.toFixed(2)}`,
    };
  }

  private async read(at: number): Promise<SpendReading> {
    const readAt = new Date(at).toISOString();
    const apiKey = this.env.RUNPOD_API_KEY;
    if (!apiKey) return { ok: false, problem: "RUNPOD_API_KEY is not set: the billing API cannot be read", readAt };
    const d = new Date(at);
    const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    const startTime = new Date(monthStart).toISOString();
    const request: BillingRequest = {
      apiKey, baseURL: this.env.RUNPOD_API_URL, fetch: this.fetchImpl,
      window: { startTime, endTime: readAt },
      filter: { serverlessId: this.env.RUNPOD_ENDPOINT_ID, podId: this.env.RUNPOD_POD_ID },
    };
    try {
      const [serverless, pods, volumes, endpoints] = await Promise.all([
        readBilling("serverless", request),
        readBilling("pods", request),
        readBilling("network-volumes", request),
        // Public endpoints are not the stack's; an account or API without them must not hide the rest.
        readBilling("endpoints", request).catch(() => undefined),
      ]);
      const serverlessUsd = serverless.metadata.totals.totalAmount;
      const podsUsd = pods.metadata.totals.totalAmount;
      const networkVolumesUsd = volumes.metadata.totals.totalAmount;
      const endpointsUsd = endpoints ? endpoints.metadata.totals.totalAmount : null;
      const totalUsd = serverlessUsd + podsUsd + networkVolumesUsd + (endpointsUsd ?? 0);
      const elapsed = at - monthStart;
      const projectedMonthUsd = elapsed >= MIN_PROJECTION_MS ? totalUsd * ((monthEnd - monthStart) / elapsed) : null;
      const budget = this.env.BUDGET_MONTHLY_USD ?? null;
      return {
        ok: true,
        monthToDate: {
          startTime, endTime: readAt,
          serverlessUsd, podsUsd, networkVolumesUsd, endpointsUsd, totalUsd, projectedMonthUsd,
          budgetMonthlyUsd: budget,
          overBudget: budget !== null && ((projectedMonthUsd ?? 0) > budget || totalUsd > budget),
          readAt,
        },
      };
    } catch (error) {
      const status = error instanceof BillingReadError ? error.status : undefined;
      const problem = status === 401 || status === 403
        ? `RunPod's billing API refused the web pod's key (${status}): a key restricted to the endpoint cannot read billing; `
          + "read spend with `npm run cost -- --actual`, or give this key read access to billing"
        : `RunPod's billing API could not be read: ${error instanceof Error ? error.message.replaceAll(apiKey, "***") : "error"}`;
      return { ok: false, problem, readAt };
    }
  }
}

/** The chat route's hook: one finished job's times into the tracker and the metrics. Returns the chat's spend. */
export function recordChatSpend(ctx: { spend: SpendTracker; metrics: AppMetrics }, times: JobTimes): ChatSpend {
  const spend = ctx.spend.recordJob(times);
  if (times.delayMs !== undefined) ctx.metrics.jobDelaySeconds.inc(Math.max(0, times.delayMs) / 1000);
  if (times.executionMs !== undefined) ctx.metrics.jobExecutionSeconds.inc(Math.max(0, times.executionMs) / 1000);
  ctx.metrics.chatGpuSeconds.observe(spend.gpuSeconds);
  if (spend.usd !== undefined) ctx.metrics.chatCostUsd.inc(spend.usd);
  return spend;
}
