// What was actually spent, from GET /v2/billing/{serverless,pods,network-volumes} (src/runpod/billing.ts), set beside the estimate
// for the same period. The period is the one RunPod resolved (metadata.query), cut at "now" because the
// current bucket is still running.
import { readBilling } from "../../runpod/billing";
import { DAYS_PER_MONTH, type CostEstimate } from "./estimate";

export { networkVolumeBillingSchema, podBillingSchema, serverlessBillingSchema } from "../../runpod/billing";

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
  const request = { apiKey, baseURL, fetch: options.fetch, window: { lastN: options.days }, filter: options.filter };
  const [serverless, pods, volumes] = await Promise.all([
    readBilling("serverless", request),
    readBilling("pods", request),
    readBilling("network-volumes", request),
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
