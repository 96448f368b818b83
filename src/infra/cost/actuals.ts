// What was actually spent, from GET /v2/billing/{serverless,pods,network-volumes}, set beside the estimate
// for the same period. The period is the one RunPod resolved (metadata.query), cut at "now" because the
// current bucket is still running.
import { z } from "zod";
import { DAYS_PER_MONTH, type CostEstimate } from "./estimate";

const amount = z.number();
const window = z.object({ startTime: z.string(), endTime: z.string() });
const metadata = <T extends z.ZodRawShape>(totals: T) =>
  z.object({ query: window.passthrough(), recordCount: z.number().int(), totals: z.object(totals).passthrough() }).passthrough();

export const serverlessBillingSchema = z.object({
  records: z.array(window.extend({ serverlessId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, gpuAmount: amount, cpuAmount: amount, diskAmount: amount, feeAmount: amount }),
});
export const podBillingSchema = z.object({
  records: z.array(window.extend({ podId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, gpuAmount: amount, cpuAmount: amount, diskAmount: amount }),
});
export const networkVolumeBillingSchema = z.object({
  records: z.array(window.extend({ networkVolumeId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, standardAmount: amount, highPerformanceAmount: amount }),
});

export interface Actuals {
  startTime: string;
  /** The end of the period that has happened: min(resolved endTime, now). */
  endTime: string;
  days: number;
  serverlessUsd: number;
  podsUsd: number;
  networkVolumesUsd: number;
  totalUsd: number;
}

export interface LoadActualsOptions {
  days: number;
  apiKey?: string;
  baseURL?: string;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Only these resources (the stack's outputs); all of the account's when absent. */
  filter?: { serverlessId?: string; podId?: string; networkVolumeId?: string };
}

export async function loadActuals(options: LoadActualsOptions): Promise<Actuals> {
  if (!Number.isInteger(options.days) || options.days < 1) throw new Error(`days: ${options.days}: must be a whole number of at least 1`);
  const apiKey = options.apiKey ?? process.env.RUNPOD_API_KEY;
  if (!apiKey) throw new Error("RUNPOD_API_KEY is not set: billing actuals need the account's API key");
  const baseURL = (options.baseURL ?? process.env.RUNPOD_API_URL ?? "https://api.runpod.io").replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;

  const get = async <T>(path: string, filterKey: "serverlessId" | "podId" | "networkVolumeId", schema: z.ZodType<T>): Promise<T> => {
    const params = new URLSearchParams({ bucketSize: "day", lastN: String(options.days) });
    const id = options.filter?.[filterKey];
    if (id) params.set(filterKey, id);
    const url = `${baseURL}/v2/billing/${path}?${params}`;
    const response = await doFetch(url, { headers: { authorization: `Bearer ${apiKey}`, accept: "application/json" }, signal: AbortSignal.timeout(15_000) });
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const detail = (body as { detail?: string } | undefined)?.detail;
      throw new Error(`GET ${url} answered HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new Error(`GET ${url} returned an unexpected body: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  };

  const [serverless, pods, volumes] = await Promise.all([
    get("serverless", "serverlessId", serverlessBillingSchema),
    get("pods", "podId", podBillingSchema),
    get("network-volumes", "networkVolumeId", networkVolumeBillingSchema),
  ]);
  const now = (options.now?.() ?? new Date()).getTime();
  const start = Date.parse(serverless.metadata.query.startTime);
  const end = Math.min(Date.parse(serverless.metadata.query.endTime), now);
  const serverlessUsd = serverless.metadata.totals.totalAmount;
  const podsUsd = pods.metadata.totals.totalAmount;
  const networkVolumesUsd = volumes.metadata.totals.totalAmount;
  return {
    startTime: new Date(start).toISOString(),
    endTime: new Date(end).toISOString(),
    days: (end - start) / 86_400_000,
    serverlessUsd, podsUsd, networkVolumesUsd,
    totalUsd: serverlessUsd + podsUsd + networkVolumesUsd,
  };
}

export interface ActualComparisonRow { item: "network volume" | "web pod" | "serverless"; estimateUsd: number; actualUsd: number; differenceUsd: number }

export interface ActualComparison<P extends string> {
  period: { startTime: string; endTime: string; days: number };
  /** Fixed costs estimated for the period; serverless estimate is the warm workers (usage is per profile, below). */
  rows: ActualComparisonRow[];
  /** Serverless spend each profile predicts for the period, beside the actual. */
  serverlessByProfile: Record<P, number>;
  /** The profile whose serverless prediction is nearest the actual spend. */
  nearestProfile: P | undefined;
  estimateBaseUsd: number;
  actualTotalUsd: number;
}

export function compareActuals<P extends string>(estimate: CostEstimate<P>, actuals: Actuals): ActualComparison<P> {
  const share = actuals.days / DAYS_PER_MONTH;
  const b = estimate.base;
  const row = (item: ActualComparisonRow["item"], estimateUsd: number, actualUsd: number): ActualComparisonRow =>
    ({ item, estimateUsd, actualUsd, differenceUsd: actualUsd - estimateUsd });
  const rows = [
    row("network volume", b.volume.usdPerMonth * share, actuals.networkVolumesUsd),
    row("web pod", (b.webPod.usdPerMonth + b.containerDisk.usdPerMonth) * share, actuals.podsUsd),
    row("serverless", b.warmWorkers.usdPerMonth * share, actuals.serverlessUsd),
  ];
  const serverlessByProfile = {} as Record<P, number>;
  let nearestProfile: P | undefined;
  let nearest = Infinity;
  for (const [name, p] of Object.entries(estimate.profiles) as [P, CostEstimate<P>["profiles"][P]][]) {
    const predicted = b.warmWorkers.usdPerMonth * share + p.usdPerDay * actuals.days;
    serverlessByProfile[name] = predicted;
    if (Math.abs(predicted - actuals.serverlessUsd) < nearest) { nearest = Math.abs(predicted - actuals.serverlessUsd); nearestProfile = name; }
  }
  return {
    period: { startTime: actuals.startTime, endTime: actuals.endTime, days: actuals.days },
    rows, serverlessByProfile, nearestProfile,
    estimateBaseUsd: estimate.baseMonthlyUsd * share,
    actualTotalUsd: actuals.totalUsd,
  };
}
