// The emulator's catalog: a few GPU types, CPU flavors and data centers shaped like REST v2's
// GpuType, CpuType and DataCenter. Serverless GPU prices are RunPod's published per-second rates
// times 3600; CPU prices use $0.04 per vCPU-hour, the only figure RunPod documents.

const sec = (perSecond: number) => Math.round(perSecond * 3600 * 10_000) / 10_000;

export const CATALOG_GPUS = [
  gpu("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24, 0.69, 0.34, sec(0.00031)),
  gpu("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80, 1.64, 1.19, sec(0.00076)),
  gpu("NVIDIA A100-SXM4-80GB", "A100 SXM", "AMPERE_80", 80, 1.74, 1.39, sec(0.00076)),
  gpu("NVIDIA RTX A6000", "RTX A6000", "AMPERE_48", 48, 0.49, 0.33, sec(0.00034)),
  gpu("NVIDIA RTX A4000", "RTX A4000", "AMPERE_16", 16, 0.25, 0.17, sec(0.00016)),
];

function gpu(id: string, name: string, pool: string, memory: number, secure: number, community: number, serverless: number) {
  return {
    id, name, pool, manufacturer: "NVIDIA", memory, secure: true, community: true,
    price: { secure, community, serverless }, maxCount: { secure: 8, community: 8 },
  };
}

export const CATALOG_CPUS = [
  cpu("cpu3c", "Compute-Optimized (3rd gen)", "cpu3c", 2, 32, 2),
  cpu("cpu3g", "General Purpose (3rd gen)", "cpu3g", 2, 32, 4),
  cpu("cpu5c", "Compute-Optimized (5th gen)", "cpu5c", 2, 32, 2),
  cpu("cpu5g", "General Purpose (5th gen)", "cpu5g", 2, 32, 4),
];

function cpu(id: string, name: string, group: string, min: number, max: number, ramGbPerVcpu: number) {
  return { id, name, group, vcpu: { min, max }, ramGbPerVcpu, price: { securePerVcpu: 0.04, serverlessPerVcpu: 0.04 } };
}

const ALL_GPU_POOLS = ["ADA_24", "AMPERE_80", "AMPERE_48", "AMPERE_16"];

export const CATALOG_DATACENTERS = [
  dc("EU-RO-1", "Romania", "EUROPE", ["STANDARD"], ALL_GPU_POOLS, ["cpu3c", "cpu3g", "cpu5c", "cpu5g"]),
  dc("EU-SE-1", "Sweden", "EUROPE", ["STANDARD"], ["ADA_24", "AMPERE_80"], ["cpu3c", "cpu3g"]),
  dc("US-KS-2", "Kansas", "NORTH_AMERICA", ["STANDARD", "HIGH_PERFORMANCE"], ALL_GPU_POOLS, ["cpu3c", "cpu3g", "cpu5c", "cpu5g"]),
  dc("US-TX-3", "Texas", "NORTH_AMERICA", ["STANDARD"], ["ADA_24", "AMPERE_48"], ["cpu3c", "cpu3g"]),
];

function dc(id: string, name: string, region: string, networkVolumeTypes: string[], pools: string[], cpus: string[]) {
  return {
    id, name, region, globalNetwork: false, networkVolumeTypes, compliance: ["GDPR"],
    gpuAvailability: pools.map((pool) => ({ id: pool, name: pool, availability: "HIGH" })),
    cpuAvailability: cpus.map((flavor) => ({ id: flavor, name: flavor, availability: "HIGH" })),
  };
}
