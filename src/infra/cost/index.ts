// The cost model: prices (live catalog or dated table) and the estimate built on them.
export { CPU_TABLE, PRICE_TABLE, loadPrices, tablePrices } from "./prices";
export type { Prices, LoadPricesOptions, GpuPool, CpuFlavor, CpuRateSource } from "./prices";
export {
  estimateCost, estimateUsage, SEED_PROFILES, REALISTIC_PROFILES, PLAN_PROFILES, PLAN_CLAIMED_USD_PER_MONTH, DEFAULT_PROFILES, usageProfileSchema, HOURS_PER_MONTH, DAYS_PER_MONTH, SECONDS_PER_DAY,
} from "./estimate";
export type { CostEstimate, ProfileEstimate, UsageProfile, BaseCost, SeedProfileName, ProfileName } from "./estimate";
export { summarizeCost, cents, significant } from "./summary";
export type { CostSummary } from "./summary";
export { loadActuals, compareActuals } from "./actuals";
export type { Actuals, ActualComparison, ActualComparisonRow, LoadActualsOptions } from "./actuals";
