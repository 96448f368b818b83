// Preflight: before `pulumi preview` or `up` creates anything, the stack's choices against RunPod's live catalog
// (GET /v2/catalog/gpus, /cpus, /datacenters): each GPU pool must offer serverless capacity in the data center, the
// web pod's CPU flavor must exist there. The data center must offer RunPod's S3 API for volumes (a fixed list, so this
// is checked offline too): without it `npm run volume` cannot put the model or a person's data on the volume, nor back
// them up; `metahuman:allowNoS3 = true` deploys there anyway, with a warning. Each problem names the key, the value
// and what is available. When the catalog does not answer (offline, no key), preflight says it was skipped and why.
import { createRunPodRestClient } from "../runpod/rest";
import { S3_DATA_CENTERS, hasS3Api } from "../runpod/s3-endpoints";
import type { CpuType, GpuType } from "../runpod/schemas";
import { CONFIG_NAMESPACE, type StackConfig } from "./config";
import { checkCuda } from "./preflight-cuda";

export interface CatalogDataCenter {
  id: string;
  gpuAvailability?: { id: string; availability: string }[];
  cpuAvailability?: { id: string; availability: string }[];
}

export interface Catalog {
  gpus: GpuType[];
  cpus: CpuType[];
  dataCenters: CatalogDataCenter[];
}

export interface PreflightResult {
  /** False when the catalog could not be read: nothing was checked. */
  checked: boolean;
  problems: string[];
  warnings: string[];
  /** Why preflight was skipped, when it was. */
  skipped?: string;
}

export type PreflightConfig = Pick<StackConfig, "dataCenter" | "gpuPools" | "webCpuFlavor"> & Partial<Pick<StackConfig, "workerCudaVersion">> & Partial<Pick<StackConfig, "allowNoS3">>;

const key = (name: string, value: unknown) => `${CONFIG_NAMESPACE}:${name} = ${JSON.stringify(value)}`;
const offered = (availability: string) => !/^(none|unavailable|out[_ ]of[_ ]stock)$/i.test(availability);

/** The pure part: the config against a catalog. */
export function checkAgainstCatalog(config: PreflightConfig, catalog: Catalog): Pick<PreflightResult, "problems" | "warnings"> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const dc = catalog.dataCenters.find((d) => d.id === config.dataCenter);
  if (dc === undefined) {
    problems.push(`${key("dataCenter", config.dataCenter)}: not a data center in RunPod's catalog; it has ${catalog.dataCenters.map((d) => d.id).join(", ")}`);
    return { problems, warnings };
  }
  // Without the availability lists (RunPod sends them only when asked) nothing can be said: a warning, not a failure.
  if (dc.gpuAvailability === undefined || dc.cpuAvailability === undefined) {
    warnings.push(`the catalog gave no GPU or CPU availability for ${dc.id}: gpuPools and webCpuFlavor were not checked`);
  }
  // A data center lists GPU types (or pools) it has; a pool counts when one of its types with a serverless price is there.
  const here = new Set((dc.gpuAvailability ?? []).filter((g) => offered(g.availability)).map((g) => g.id));
  const poolsHere = new Set<string>();
  for (const gpu of catalog.gpus) {
    if (gpu.pool && gpu.price.serverless !== undefined && gpu.price.serverless > 0 && (here.has(gpu.id) || here.has(gpu.pool))) poolsHere.add(gpu.pool);
  }
  const missingPools = config.gpuPools.filter((pool) => !poolsHere.has(pool));
  if (dc.gpuAvailability !== undefined && missingPools.length > 0) {
    problems.push(`${key("gpuPools", config.gpuPools.join(","))}: ${missingPools.join(", ")} offer${missingPools.length === 1 ? "s" : ""} no serverless ` +
      `capacity in ${dc.id}; available there: ${[...poolsHere].sort().join(", ") || "none"}`);
  }
  const flavorsHere = new Set((dc.cpuAvailability ?? []).filter((c) => offered(c.availability)).map((c) => c.id.split("-")[0]!));
  if (dc.cpuAvailability !== undefined && !flavorsHere.has(config.webCpuFlavor)) {
    problems.push(`${key("webCpuFlavor", config.webCpuFlavor)}: not offered in ${dc.id}; available there: ${[...flavorsHere].sort().join(", ") || "none"}`);
  }
  // The worker image's CUDA against the GPU types' cudaVersions (preflight-cuda.ts); not given, not checked.
  if (config.workerCudaVersion !== undefined) {
    const cuda = checkCuda({ gpuPools: config.gpuPools, workerCudaVersion: config.workerCudaVersion }, catalog.gpus);
    problems.push(...cuda.problems);
    warnings.push(...cuda.warnings);
  }
  return { problems, warnings };
}

/** The data center against the list of those with RunPod's S3 API: no catalog needed, so it holds offline too. */
export function checkS3Api(config: PreflightConfig): Pick<PreflightResult, "problems" | "warnings"> {
  if (hasS3Api(config.dataCenter)) return { problems: [], warnings: [] };
  const why = `${key("dataCenter", config.dataCenter)}: RunPod's S3 API for network volumes is not offered there, so ` +
    `\`npm run volume\` (push-model, push-data, backup, restore) cannot reach the volume; it is offered in ${S3_DATA_CENTERS.join(", ")}`;
  if (config.allowNoS3) return { problems: [], warnings: [`${why} (deploying anyway: metahuman:allowNoS3 = true)`] };
  return { problems: [`${why}. Choose one of those, or \`pulumi config set metahuman:allowNoS3 true\` to deploy there anyway`], warnings: [] };
}

export interface PreflightOptions {
  apiKey?: string;
  /** REST v2 base; default RUNPOD_API_URL, then https://api.runpod.io. */
  baseURL?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Reads the catalog (one retry, a short timeout: a preview waits for it) and checks the config against it. */
export async function runPreflight(config: PreflightConfig, options: PreflightOptions = {}): Promise<PreflightResult> {
  const s3 = checkS3Api(config);
  const apiKey = options.apiKey ?? process.env.RUNPOD_API_KEY;
  if (!apiKey) return { checked: false, ...s3, skipped: "no RunPod API key" };
  const baseURL = (options.baseURL ?? process.env.RUNPOD_API_URL ?? "https://api.runpod.io").replace(/\/+$/, "");
  const client = createRunPodRestClient({ apiKey, baseURL, fetch: options.fetch, timeoutMs: options.timeoutMs ?? 10_000, maxRetries: 1, maxRetryAfterMs: 5_000 });
  let catalog: Catalog;
  try {
    const [gpus, cpus, dataCenters] = await Promise.all([
      client.catalog.gpus(), client.catalog.cpus(), client.catalog.datacenters({ include: ["GPU_AVAILABILITY", "CPU_AVAILABILITY"] }),
    ]);
    catalog = { gpus, cpus, dataCenters };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split(apiKey).join("***");
    return { checked: false, ...s3, skipped: `the catalog at ${baseURL} could not be read (${reason})` };
  }
  const fromCatalog = checkAgainstCatalog(config, catalog);
  return { checked: true, problems: [...fromCatalog.problems, ...s3.problems], warnings: [...fromCatalog.warnings, ...s3.warnings] };
}
