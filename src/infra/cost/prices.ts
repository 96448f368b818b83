// Prices for the cost estimate: RunPod's live catalog when an API key is at hand, else a dated table.
// Every Prices value says where it came from (`source`, `asOf`) and which figures were filled in from
// the table, so an estimate can always be traced back to the price it used.
import { createRunPodRestClient } from "../../runpod/rest";
import type { CpuType, GpuType } from "../../runpod/schemas";
import { CPU_FLAVORS, GPU_POOLS } from "../config";

export type GpuPool = (typeof GPU_POOLS)[number];
export type CpuFlavor = (typeof CPU_FLAVORS)[number];

export interface Prices {
  /** "catalog": GPU and CPU rates read from GET /v2/catalog/*; "table": PRICE_TABLE alone. */
  source: "catalog" | "table";
  /** When the prices were true: the moment of the catalog read, or the table's date (ISO 8601). */
  asOf: string;
  /** Serverless rate per worker (one GPU) in USD per second, by pool. */
  serverlessGpuUsdPerSecond: Partial<Record<GpuPool, number>>;
  /** Secure-cloud CPU pod rate in USD per vCPU per hour, by flavor. */
  cpuUsdPerVcpuHour: Partial<Record<CpuFlavor, number>>;
  /** Where each flavor's rate came from, in words: "live catalog", or the table's source and date ("assumed" when it is). */
  cpuRateSource: Partial<Record<CpuFlavor, string>>;
  /** Network volume storage, USD per GB per month: standard is tiered at 1 TB (1000 GB). */
  volumeUsdPerGbMonth: { standardFirstTb: number; standardBeyondTb: number; highPerformance: number };
  /** Container disk of a running pod, USD per GB per month. */
  containerDiskUsdPerGbMonth: number;
  /** Figures that are not from the source named above, or are assumptions, one line each. */
  notes: string[];
}

/** Where one CPU flavor's table rate comes from. `assumed`: no dated figure is known for the flavor. */
export interface CpuRateSource { usdPerVcpuHour: number; source: string; asOf: string; assumed: boolean }

/**
 * CPU pod rates per flavor, secure cloud, USD per vCPU-hour. RunPod does not publish them (only GET /v2/catalog/cpus
 * answers), so each dated figure names its source; the others are assumptions at the dearest dated rate.
 */
export const CPU_TABLE: Record<CpuFlavor, CpuRateSource> = {
  cpu3c: { usdPerVcpuHour: 0.03, source: "third-party catalog snapshots (2 vCPU $0.06/h)", asOf: "2026-11-30", assumed: false },
  cpu3g: { usdPerVcpuHour: 0.04, source: "third-party catalog snapshots (4 vCPU $0.16/h); the v2 spec's example securePerVcpu", asOf: "2026-11-30", assumed: false },
  cpu5c: { usdPerVcpuHour: 0.035, source: "a client test's live catalog value (2 vCPU $0.07/h)", asOf: "2026-08-31", assumed: false },
  cpu3m: { usdPerVcpuHour: 0.04, source: "assumed: cpu3g's rate (no dated figure; memory-optimized may cost more)", asOf: "2026-11-30", assumed: true },
  cpu5g: { usdPerVcpuHour: 0.04, source: "assumed: cpu3g's rate (no dated figure)", asOf: "2026-11-30", assumed: true },
  cpu5m: { usdPerVcpuHour: 0.04, source: "assumed: cpu3g's rate (no dated figure; memory-optimized may cost more)", asOf: "2026-11-30", assumed: true },
};

/**
 * The fallback table. Sources: RunPod's published prices as collected in the project's reference notes
 * ("Published prices (RunPod docs, 2026)"): network volume $0.07/GB/month under 1 TB and $0.05 above,
 * container disk $0.10/GB/month, serverless RTX 4090 (ADA_24) $0.00031/s and A100 80GB (AMPERE_80)
 * $0.00076/s per worker, flex and active rates unified since 2026-05-13.
 */
export const PRICE_TABLE = {
  asOf: "2026-05-13",
  source: "RunPod docs, published prices (2026); serverless flex/active unified 2026-05-13",
  serverlessGpuUsdPerSecond: {
    AMPERE_16: 0.00016,
    AMPERE_24: 0.00019,
    ADA_24: 0.00031,
    AMPERE_48: 0.00034,
    ADA_48_PRO: 0.00053,
    AMPERE_80: 0.00076,
    ADA_80_PRO: 0.00116,
    HOPPER_141: 0.00155,
  } satisfies Record<GpuPool, number>,
  /** Pools whose table rate is published in the reference notes; the others are RunPod pricing-page figures, not re-verified. */
  verifiedPools: ["ADA_24", "AMPERE_80"] as GpuPool[],
  /**
   * CPU pod prices are NOT published by RunPod; the live catalog answers them. These are dated figures per flavor,
   * each with where it comes from; flavors with no known figure carry an assumption, said as such in the notes.
   */
  cpuUsdPerVcpuHour: Object.fromEntries(CPU_FLAVORS.map((f) => [f, CPU_TABLE[f].usdPerVcpuHour])) as Record<CpuFlavor, number>,
  volumeUsdPerGbMonth: {
    standardFirstTb: 0.07,
    standardBeyondTb: 0.05,
    /** Not in the reference notes: RunPod's pricing page figure for high-performance storage, an assumption. */
    highPerformance: 0.14,
  },
  containerDiskUsdPerGbMonth: 0.1,
} as const;

const TABLE_NOTES = [
  "CPU pod rates per flavor are dated figures, not RunPod's published prices (RunPod publishes none; the live catalog answers): "
    + CPU_FLAVORS.map((f) => `${f} $${CPU_TABLE[f].usdPerVcpuHour}${CPU_TABLE[f].assumed ? " (assumed)" : ` (${CPU_TABLE[f].asOf})`}`).join(", ") + ".",
  "Pool rates other than ADA_24 and AMPERE_80 come from RunPod's pricing page and were not re-verified.",
  "High-performance volume rate $0.14/GB/month is an assumption (not in the published figures used here).",
];

function tableCpuSource(flavor: CpuFlavor): string {
  const rate = CPU_TABLE[flavor];
  return rate.assumed ? `table, ${rate.source}` : `table: ${rate.source}, ${rate.asOf}`;
}

/** The table as Prices (what every estimate uses when no catalog can be read). */
export function tablePrices(reason?: string): Prices {
  return {
    source: "table",
    asOf: PRICE_TABLE.asOf,
    serverlessGpuUsdPerSecond: { ...PRICE_TABLE.serverlessGpuUsdPerSecond },
    cpuUsdPerVcpuHour: { ...PRICE_TABLE.cpuUsdPerVcpuHour },
    cpuRateSource: Object.fromEntries(CPU_FLAVORS.map((f) => [f, tableCpuSource(f)])),
    volumeUsdPerGbMonth: { ...PRICE_TABLE.volumeUsdPerGbMonth },
    containerDiskUsdPerGbMonth: PRICE_TABLE.containerDiskUsdPerGbMonth,
    notes: [
      `Prices from the built-in table (${PRICE_TABLE.source}).`,
      ...(reason ? [reason] : []),
      ...TABLE_NOTES,
    ],
  };
}

export interface LoadPricesOptions {
  /** RunPod API key; defaults to RUNPOD_API_KEY. Without one the table is used. */
  apiKey?: string;
  /** REST v2 management base; defaults to RUNPOD_API_URL, then https://api.runpod.io. */
  baseURL?: string;
  fetch?: typeof fetch;
  /** Per-request timeout; a slow catalog must not hang a preview. */
  timeoutMs?: number;
  /** Clock for `asOf` (tests). */
  now?: () => Date;
}

/**
 * Reads GPU and CPU prices from the live catalog, falling back to PRICE_TABLE when there is no key
 * or the catalog cannot be read. Never throws for a catalog failure: the reason lands in `notes`
 * (without the key). Volume and container disk rates are not in the catalog and always come from the table.
 */
export async function loadPrices(options: LoadPricesOptions = {}): Promise<Prices> {
  const apiKey = options.apiKey ?? process.env.RUNPOD_API_KEY;
  if (!apiKey) return tablePrices("No RunPod API key: the live catalog was not read.");
  const baseURL = (options.baseURL ?? process.env.RUNPOD_API_URL ?? "https://api.runpod.io").replace(/\/+$/, "");
  // One retry at most: a preview waits for this, and the table is a fine answer when the catalog is slow.
  const client = createRunPodRestClient({ apiKey, baseURL, fetch: options.fetch, timeoutMs: options.timeoutMs ?? 10_000, maxRetries: 1, maxRetryAfterMs: 5_000 });

  let gpus: GpuType[];
  let cpus: CpuType[];
  try {
    [gpus, cpus] = await Promise.all([client.catalog.gpus(), client.catalog.cpus()]);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return tablePrices(`The live catalog at ${baseURL} could not be read (${reason.replaceAll(apiKey, "***")}).`);
  }

  const table = tablePrices();
  const notes = [`GPU and CPU prices from the live catalog at ${baseURL}; volume and disk rates from the table (${PRICE_TABLE.source}).`];

  const serverlessGpuUsdPerSecond: Partial<Record<GpuPool, number>> = {};
  for (const gpu of gpus) {
    const pool = gpu.pool as GpuPool | null | undefined;
    // All GPU types of a pool share the pool's serverless rate; the first one listed is enough.
    if (pool && (GPU_POOLS as readonly string[]).includes(pool) && gpu.price.serverless !== undefined
      && serverlessGpuUsdPerSecond[pool] === undefined) {
      serverlessGpuUsdPerSecond[pool] = gpu.price.serverless / 3600;
    }
  }
  const cpuUsdPerVcpuHour: Partial<Record<CpuFlavor, number>> = {};
  const cpuRateSource: Partial<Record<CpuFlavor, string>> = {};
  for (const cpu of cpus) {
    // Catalog ids come as "cpu3g" or with a size suffix ("cpu3c-2-4"); the flavor is the first part.
    const flavor = cpu.id.split("-")[0] as CpuFlavor;
    if ((CPU_FLAVORS as readonly string[]).includes(flavor) && cpuUsdPerVcpuHour[flavor] === undefined) {
      cpuUsdPerVcpuHour[flavor] = cpu.price.securePerVcpu;
      cpuRateSource[flavor] = "live catalog";
    }
  }
  for (const pool of GPU_POOLS) {
    if (serverlessGpuUsdPerSecond[pool] === undefined) {
      serverlessGpuUsdPerSecond[pool] = table.serverlessGpuUsdPerSecond[pool];
      notes.push(`Pool ${pool} has no serverless price in the catalog: table rate used.`);
    }
  }
  for (const flavor of CPU_FLAVORS) {
    if (cpuUsdPerVcpuHour[flavor] === undefined) {
      cpuUsdPerVcpuHour[flavor] = table.cpuUsdPerVcpuHour[flavor];
      cpuRateSource[flavor] = `not in the catalog: ${tableCpuSource(flavor)}`;
      notes.push(`CPU flavor ${flavor} is not in the catalog: assumed table rate used.`);
    }
  }

  return {
    source: "catalog",
    asOf: (options.now?.() ?? new Date()).toISOString(),
    serverlessGpuUsdPerSecond,
    cpuUsdPerVcpuHour,
    cpuRateSource,
    volumeUsdPerGbMonth: table.volumeUsdPerGbMonth,
    containerDiskUsdPerGbMonth: table.containerDiskUsdPerGbMonth,
    notes,
  };
}
