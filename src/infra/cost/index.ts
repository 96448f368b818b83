// The cost model: prices (live catalog or dated table) and the estimate built on them.
export { PRICE_TABLE, loadPrices, tablePrices } from "./prices";
export type { Prices, LoadPricesOptions, GpuPool, CpuFlavor } from "./prices";
export {
  estimateCost, estimateUsage, SEED_PROFILES, usageProfileSchema, HOURS_PER_MONTH, DAYS_PER_MONTH, SECONDS_PER_DAY,
} from "./estimate";
export type { CostEstimate, ProfileEstimate, UsageProfile, BaseCost, SeedProfileName } from "./estimate";
export { loadActuals, compareActuals } from "./actuals";
export type { Actuals, ActualComparison, ActualComparisonRow, LoadActualsOptions } from "./actuals";
