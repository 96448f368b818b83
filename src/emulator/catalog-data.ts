// The emulator's catalog: a few GPU types, CPU flavors and data centers shaped like REST v2's GpuType,
// CpuType and DataCenter, and the storage rates RunPod publishes (the catalog has none). These are the
// emulator's own prices, and the ones its billing charges: GPU and CPU prices are deliberately NOT the
// cost model's dated fallback table (src/infra/cost PRICE_TABLE: RTX 4090 $0.00031/s, cpu3g
// $0.04/vCPU-h), so a test can tell an estimate made from the live catalog from one made from the table.

export type VolumeType = "STANDARD" | "HIGH_PERFORMANCE";

export interface CatalogGpu {
  id: string;
  name: string;
  pool: string;
  manufacturer: string;
  memory: number;
  secure: boolean;
  community: boolean;
  /** USD per hour per GPU. */
  price: { secure: number; community: number; serverless: number };
  maxCount: { secure: number; community: number };
  /** The spec's CudaVersionAvailability list: which CUDA versions hosts with this GPU run. */
  cudaVersions: { version: string; available: boolean }[];
}

export interface CatalogCpu {
  id: string;
  name: string;
  group: string;
  vcpu: { min: number; max: number };
  ramGbPerVcpu: number;
  /** USD per vCPU per hour. */
  price: { securePerVcpu: number; serverlessPerVcpu: number };
}

export interface CatalogDataCenter {
  id: string;
  name: string;
  region: "EUROPE" | "NORTH_AMERICA";
  globalNetwork: boolean;
  networkVolumeTypes: VolumeType[];
  compliance: string[];
  gpuAvailability: { id: string; name: string; availability: "HIGH" }[];
  cpuAvailability: { id: string; name: string; availability: "HIGH" }[];
}

/** Serverless per-second rates are quoted per hour in the catalog. */
const perHour = (perSecond: number) => Math.round(perSecond * 3600 * 10_000) / 10_000;

/** The CUDA versions the emulator's hosts know; each GPU type runs those up to its newest driver's. */
const CUDA_VERSIONS = ["12.4", "12.6", "12.8", "12.9", "13.0"];

// The RTX A4000 hosts (AMPERE_16) have no driver ≥ 580: no CUDA 13, which vLLM 0.33's default image needs.
export const CATALOG_GPUS: CatalogGpu[] = [
  gpu("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24, 0.74, 0.37, perHour(0.00034), "13.0"),
  gpu("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80, 1.69, 1.22, perHour(0.00082), "13.0"),
  gpu("NVIDIA A100-SXM4-80GB", "A100 SXM", "AMPERE_80", 80, 1.79, 1.42, perHour(0.00082), "13.0"),
  gpu("NVIDIA RTX A6000", "RTX A6000", "AMPERE_48", 48, 0.52, 0.35, perHour(0.00037), "13.0"),
  gpu("NVIDIA RTX A4000", "RTX A4000", "AMPERE_16", 16, 0.27, 0.18, perHour(0.00018), "12.8"),
  // The other serverless pools RunPod's console offers (GPU_POOLS in src/infra/config.ts; serverless flex rates
  // from RunPod's pricing page, 2026-11-30; pod rates approximate): a pool a user can pick must pass here too.
  gpu("NVIDIA RTX A5000", "RTX A5000", "AMPERE_24", 24, 0.27, 0.16, perHour(0.00019), "13.0"),
  gpu("NVIDIA L4", "L4", "AMPERE_24", 24, 0.43, 0.43, perHour(0.00019), "13.0"),
  gpu("NVIDIA L40S", "L40S", "ADA_48_PRO", 48, 0.86, 0.79, perHour(0.00053), "13.0"),
  gpu("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", "ADA_48_PRO", 48, 0.77, 0.74, perHour(0.00053), "13.0"),
  gpu("NVIDIA H100 80GB HBM3", "H100 SXM", "ADA_80_PRO", 80, 2.69, 2.69, perHour(0.00116), "13.0"),
  gpu("NVIDIA H100 PCIe", "H100 PCIe", "ADA_80_PRO", 80, 2.39, 1.99, perHour(0.00116), "13.0"),
  gpu("NVIDIA H200", "H200 SXM", "HOPPER_141", 141, 3.59, 3.59, perHour(0.00155), "13.0"),
];

function gpu(id: string, name: string, pool: string, memory: number, secure: number, community: number, serverless: number, newestCuda: string): CatalogGpu {
  const newest = CUDA_VERSIONS.indexOf(newestCuda);
  return {
    id, name, pool, manufacturer: "NVIDIA", memory, secure: true, community: true,
    price: { secure, community, serverless }, maxCount: { secure: 8, community: 8 },
    cudaVersions: CUDA_VERSIONS.map((version, i) => ({ version, available: i <= newest })),
  };
}

export const CATALOG_CPUS: CatalogCpu[] = [
  cpu("cpu3c", "Compute-Optimized (3rd gen)", "cpu3c", 2, 32, 2, 0.035),
  cpu("cpu3g", "General Purpose (3rd gen)", "cpu3g", 2, 32, 4, 0.045),
  cpu("cpu5c", "Compute-Optimized (5th gen)", "cpu5c", 2, 32, 2, 0.04),
  cpu("cpu5g", "General Purpose (5th gen)", "cpu5g", 2, 32, 4, 0.055),
];

function cpu(id: string, name: string, group: string, min: number, max: number, ramGbPerVcpu: number, perVcpu: number): CatalogCpu {
  return { id, name, group, vcpu: { min, max }, ramGbPerVcpu, price: { securePerVcpu: perVcpu, serverlessPerVcpu: perVcpu } };
}

const ALL_GPU_POOLS = [...new Set(CATALOG_GPUS.map((g) => g.pool))];

export const CATALOG_DATACENTERS: CatalogDataCenter[] = [
  dc("EU-RO-1", "Romania", "EUROPE", ["STANDARD"], ALL_GPU_POOLS, ["cpu3c", "cpu3g", "cpu5c", "cpu5g"]),
  dc("EU-SE-1", "Sweden", "EUROPE", ["STANDARD"], ["ADA_24", "AMPERE_80"], ["cpu3c", "cpu3g"]),
  dc("US-KS-2", "Kansas", "NORTH_AMERICA", ["STANDARD", "HIGH_PERFORMANCE"], ALL_GPU_POOLS, ["cpu3c", "cpu3g", "cpu5c", "cpu5g"]),
  dc("US-TX-3", "Texas", "NORTH_AMERICA", ["STANDARD"], ["ADA_24", "AMPERE_48"], ["cpu3c", "cpu3g"]),
];

function dc(id: string, name: string, region: CatalogDataCenter["region"], networkVolumeTypes: VolumeType[], pools: string[], cpus: string[]): CatalogDataCenter {
  return {
    id, name, region, globalNetwork: false, networkVolumeTypes, compliance: ["GDPR"],
    gpuAvailability: pools.map((pool) => ({ id: pool, name: pool, availability: "HIGH" })),
    cpuAvailability: cpus.map((flavor) => ({ id: flavor, name: flavor, availability: "HIGH" })),
  };
}

/** Storage is not in the catalog: RunPod's published rates (USD per GB per month). */
export const STORAGE_PRICES = {
  volume: { standardFirstTb: 0.07, standardBeyondTb: 0.05, highPerformance: 0.14 },
  containerDisk: 0.1,
} as const;
