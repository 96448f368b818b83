// Preflight's CUDA check: every GPU pool of the endpoint must have hosts whose CUDA runs the worker image
// (`metahuman:workerCudaVersion`, sent as the endpoint's gpu.minCudaVersion). RunPod's catalog gives each GPU type's
// `cudaVersions` ({version, available}), for the type as a whole, not per data center. A pool whose types the catalog
// gives no CUDA versions for is a warning (not checked), not a failure.
import type { GpuType } from "../runpod/schemas";
import { CONFIG_NAMESPACE, type StackConfig } from "./config";

export type CudaPreflightConfig = Pick<StackConfig, "gpuPools" | "workerCudaVersion">;

/** "12.10" > "12.9": compared as numbers, major then minor. */
export function compareCudaVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export function checkCuda(config: CudaPreflightConfig, gpus: GpuType[]): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const unknown: string[] = [];
  const wanted = config.workerCudaVersion;
  for (const pool of config.gpuPools) {
    const types = gpus.filter((gpu) => gpu.pool === pool && gpu.cudaVersions !== undefined);
    if (types.length === 0) {
      unknown.push(pool);
      continue;
    }
    const available = [...new Set(types.flatMap((gpu) => (gpu.cudaVersions ?? []).filter((c) => c.available).map((c) => c.version)))]
      .sort(compareCudaVersions);
    if (!available.some((version) => compareCudaVersions(version, wanted) >= 0)) {
      problems.push(`${CONFIG_NAMESPACE}:workerCudaVersion = ${JSON.stringify(wanted)}: no GPU of ${pool} offers CUDA ${wanted} or newer ` +
        `(the worker image needs it); available in ${pool}: ${available.join(", ") || "none"}`);
    }
  }
  const warnings = unknown.length === 0 ? [] : [
    `the catalog gave no CUDA versions for ${unknown.join(", ")}: ${CONFIG_NAMESPACE}:workerCudaVersion = ${JSON.stringify(wanted)} was not checked there`,
  ];
  return { problems, warnings };
}
