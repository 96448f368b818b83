// What `pulumi preview` shows of the estimate (the stack's costEstimate output): few figures, rounded to what a
// person reads, so that a config change reads as a diff. Details: `npm run cost`.
import { PLAN_CLAIMED_USD_PER_MONTH, type CostEstimate, type ProfileName } from "./estimate";

export interface CostSummary {
  baseUsdPerMonth: number;
  /** The web pod as priced: size, flavor, rate, hours. */
  webPod: string;
  gpuUsdPerSecond: number;
  gpuPool: string;
  /** Total (base + usage) for our own profiles. */
  usdPerMonth: { light: number; medium: number; heavy: number };
  /** The plan's own examples: what the plan claims for usage, and our estimate of the same usage. */
  planUsageUsdPerMonth: Record<"light" | "medium" | "heavy", { claimed: number; estimated: number }>;
  /** The most a burst can cost: every worker up to workersMax busy for an hour. */
  peakUsdPerHour: number;
  budgetUsdPerMonth: number;
  /** Source and day of the prices: the day only, so that a preview run later shows no change. */
  prices: string;
  /** Where the web pod's CPU rate came from: the live catalog, or the table's dated figure (or an assumption). */
  webPodRate: string;
}

/** Money in cents. */
export const cents = (usd: number): number => Math.round(usd * 100) / 100;

/** A rate to `digits` significant figures: 0.00031000000000000005 → 0.00031. */
export function significant(n: number, digits = 4): number {
  if (n === 0 || !Number.isFinite(n)) return n;
  return Number(n.toPrecision(digits));
}

export function summarizeCost(estimate: CostEstimate<ProfileName>, workersMax: number): CostSummary {
  const w = estimate.base.webPod;
  const hours = w.webHours === "always" ? "always on" : `${w.webHours} (${significant(w.hoursPerDay, 3)} h/day)`;
  const plan = (name: "light" | "medium" | "heavy") => ({
    claimed: PLAN_CLAIMED_USD_PER_MONTH[`plan-${name}`],
    estimated: cents(estimate.profiles[`plan-${name}`].usageMonthlyUsd),
  });
  return {
    baseUsdPerMonth: cents(estimate.baseMonthlyUsd),
    webPod: `${w.vcpu} vCPU ${w.flavor} at $${significant(w.usdPerVcpuHour)}/vCPU-h, ${hours}`,
    gpuUsdPerSecond: significant(estimate.gpuUsdPerSecond),
    gpuPool: estimate.gpuPool,
    usdPerMonth: {
      light: cents(estimate.profiles.light.monthlyUsd),
      medium: cents(estimate.profiles.medium.monthlyUsd),
      heavy: cents(estimate.profiles.heavy.monthlyUsd),
    },
    planUsageUsdPerMonth: { light: plan("light"), medium: plan("medium"), heavy: plan("heavy") },
    peakUsdPerHour: cents(workersMax * estimate.gpuUsdPerSecond * 3600),
    budgetUsdPerMonth: estimate.budgetMonthlyUsd,
    prices: `${estimate.priceSource.source} of ${estimate.priceSource.asOf.slice(0, 10)}`,
    webPodRate: w.rateSource,
  };
}
