// The stack's configuration: one zod schema over the `metahuman:*` keys of Pulumi.<stack>.yaml,
// with the seed's choices as defaults. Pulumi hands config values over as strings, so numbers,
// booleans and lists are parsed here, and every failure names the key, the value and what is allowed.
import { z } from "zod";
import { parseWebHours } from "../common/daily-window";

export const CONFIG_NAMESPACE = "metahuman";

/** Where the network volume is mounted on the web pod and on serverless workers (RunPod's fixed path). */
export const VOLUME_MOUNT_PATH = "/runpod-volume";

/** Serverless GPU pool ids (`pool` in GET /v2/catalog/gpus). */
export const GPU_POOLS = [
  "AMPERE_16", "AMPERE_24", "ADA_24", "AMPERE_48", "ADA_48_PRO", "AMPERE_80", "ADA_80_PRO", "HOPPER_141",
] as const;

export const CPU_FLAVORS = ["cpu3c", "cpu3g", "cpu3m", "cpu5c", "cpu5g", "cpu5m"] as const;

/** CUDA versions a RunPod host may offer (an endpoint's `gpu.minCudaVersion`, the catalog's `cudaVersions`). */
export const CUDA_VERSIONS = ["11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9", "13.0"] as const;

const integer = (min: number, max: number) =>
  z.coerce.number({ invalid_type_error: `must be a whole number from ${min} to ${max}` })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be a whole number from ${min} to ${max}`)
    .max(max, `must be a whole number from ${min} to ${max}`);

const boolean = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ invalid_type_error: 'must be "true" or "false"' }),
);

const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    const text = v.trim();
    if (text.startsWith("[")) {
      try { return JSON.parse(text); } catch { return v; }
    }
    return text.split(",").map((s) => s.trim()).filter(Boolean);
  }, z.array(item, { invalid_type_error: "must be a list (JSON array or comma-separated)" }));

const imageRef = z.string().regex(
  /^[a-z0-9]+([._\/-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9._-]+)*(:[A-Za-z0-9_.-]{1,128})?(@sha256:[a-f0-9]{64})?$/,
  "must be a container image reference such as ghcr.io/you/metahuman-web:1.0.0",
);

/**
 * The images have no default: no published image is yours to run. Unset, the program stops at `pulumi preview`
 * (`missingImages`); the images workflow builds both and sets them by digest.
 */
const requiredImage = imageRef.optional().transform((value) => value ?? "");

/** Each image key and the Dockerfile it is built from. */
export const IMAGE_KEYS = { workerImage: "docker/worker.Dockerfile", webImage: "docker/web.Dockerfile" } as const;

export const stackConfigSchema = z.object({
  /** RunPod data center that holds the volume; the pod and the endpoint's workers run there too. */
  dataCenter: z.string().regex(/^[A-Z]{2}-[A-Z]{2,4}-\d{1,2}$/, "must be a RunPod data center id such as EU-RO-1 or US-TX-3")
    .default("EU-RO-1"),
  /**
   * Deploy to a data center without RunPod's S3 API for volumes (src/runpod/s3-endpoints.ts) anyway. Off by default:
   * there `npm run volume` cannot push the model or a person's data, nor back them up, so preview fails.
   */
  allowNoS3: boolean.default(false),
  /** Network volume size in GB. It can grow but never shrink. */
  volumeSizeGb: integer(10, 4096).default(50),
  volumeType: z.enum(["STANDARD", "HIGH_PERFORMANCE"]).default("STANDARD"),

  /** Serverless GPU pools the endpoint may use, in order of preference. */
  gpuPools: list(z.enum(GPU_POOLS)).pipe(z.array(z.enum(GPU_POOLS)).min(1, "must name at least one GPU pool"))
    .default(["ADA_24"]),
  workersMin: integer(0, 100).default(0),
  workersMax: integer(1, 100).default(3),
  /** Seconds an idle worker stays up (and billed) after its last job. */
  idleTimeout: integer(1, 3600).default(5),
  /** Scale up once a request has waited this many seconds in the queue. */
  queueDelaySeconds: z.coerce.number({ invalid_type_error: "must be a number of seconds, at least 0.5" })
    .min(0.5, "must be a number of seconds, at least 0.5").max(3600, "must be at most 3600 seconds").default(4),
  flashboot: boolean.default(true),
  /** Per-job execution limit in ms: a runaway job never bills for more than this. */
  executionTimeoutMs: integer(5_000, 86_400_000).default(600_000),

  workerImage: requiredImage,
  /**
   * The CUDA the worker image is built for, so the endpoint only gets hosts whose driver runs it (gpu.minCudaVersion).
   * docker/worker.Dockerfile's base, vLLM 0.33's default image, is CUDA 13.0 (driver ≥ 580); its -cu129 variant is 12.9.
   */
  workerCudaVersion: z.enum(CUDA_VERSIONS).default("13.0"),
  /** Model the worker serves: a Hugging Face id (cached on the volume) or a path under /runpod-volume. */
  model: z.string().min(1, "must name a model").default("Qwen/Qwen2.5-7B-Instruct-AWQ"),
  maxModelLen: integer(512, 1_048_576).default(8192),
  gpuMemoryUtilization: z.coerce.number({ invalid_type_error: "must be a fraction between 0.1 and 0.98" })
    .min(0.1, "must be a fraction between 0.1 and 0.98").max(0.98, "must be a fraction between 0.1 and 0.98").default(0.9),

  webCpuFlavor: z.enum(CPU_FLAVORS).default("cpu3g"),
  webVcpu: integer(2, 64).refine((n) => (n & (n - 1)) === 0, "must be a power of two (2, 4, 8, 16, 32 or 64)").default(4),
  webImage: requiredImage,
  webPort: integer(1, 65535).default(4321),
  webContainerDiskGb: integer(5, 500).default(20),
  /**
   * When the web pod runs: "always", or a daily window such as "07:00-23:00 Europe/Berlin". Outside it the pod is
   * stopped (npm run web, or the scheduled workflow) and only its disk, the volume and the endpoint's storage bill.
   */
  webHours: z.string().default("always").superRefine((value, ctx) => {
    try {
      parseWebHours(value);
    } catch (error) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
    }
  }),
  cloud: z.enum(["SECURE", "COMMUNITY"]).default("SECURE"),
  nodeEnv: z.enum(["production", "development"]).default("production"),
  /**
   * MetaHuman OS's background agents on the web pod: "off" pauses them (every batch of their LLM calls wakes a billed
   * GPU worker while nobody chats; see the light-agents cost profile), "on" leaves MetaHuman OS's own settings.
   */
  agents: z.enum(["off", "on"]).default("off"),

  /**
   * Monthly budget in USD for what runs whether or not anyone chats (volume + web pod + warm workers).
   * The seed hoped for about $30; an always-on 4 vCPU pod alone is about $117 a month at $0.04/vCPU-hour,
   * so the default leaves room for the seed's own choices.
   */
  budgetMonthlyUsd: z.coerce.number({ invalid_type_error: "must be a number of US dollars" })
    .positive("must be a positive number of US dollars").default(150),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type StackConfigInput = z.input<typeof stackConfigSchema>;

/** Keys read from config; the secrets are read separately and never pass through error messages. */
export const CONFIG_KEYS = Object.keys(stackConfigSchema.shape) as (keyof StackConfig)[];
/** Secrets, and the S3 API key that `npm run volume --stack` reads (src/volume/target.ts; the program never does). */
export const SECRET_KEYS = ["runpodApiKey", "webRunpodApiKey", "sessionSecret", "s3AccessKeyId", "s3SecretAccessKey"] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses raw config values (strings as Pulumi gives them, or already-typed values).
 * Throws a ConfigError listing every bad key as `metahuman:key = "value": what is allowed`.
 */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const unknown = Object.keys(raw).filter((k) => !(CONFIG_KEYS as string[]).includes(k) && !(SECRET_KEYS as readonly string[]).includes(k));
  const problems = unknown.map(
    (k) => `${CONFIG_NAMESPACE}:${k} is not a known setting; known settings are ${CONFIG_KEYS.join(", ")}`,
  );
  const result = stackConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0]);
      const value = JSON.stringify(raw[key]);
      problems.push(`${CONFIG_NAMESPACE}:${key} = ${value}: ${describeIssue(issue)}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);

  const config = result.data;
  if (config.workersMin > config.workersMax) {
    throw new ConfigError([
      `${CONFIG_NAMESPACE}:workersMin = ${config.workersMin}: must not exceed workersMax (${config.workersMax})`,
    ]);
  }
  return config;
}

/** One line per image key left unset: the key, and how to build, push and pin the image. */
export function missingImages(config: Pick<StackConfig, keyof typeof IMAGE_KEYS>): string[] {
  return (Object.keys(IMAGE_KEYS) as (keyof typeof IMAGE_KEYS)[]).filter((key) => !config[key]).map((key) => {
    const name = `metahuman-${key === "workerImage" ? "worker" : "web"}`;
    return `${CONFIG_NAMESPACE}:${key} is not set, and no default points at an image: build and push ${IMAGE_KEYS[key]} ` +
      "(the images workflow, .github/workflows/images.yml, does it on every push to main and hands the digest to the deploy; " +
      `by hand: docker buildx build -f ${IMAGE_KEYS[key]} -t ghcr.io/<you>/${name}:<tag> --push .), then ` +
      `\`pulumi config set ${CONFIG_NAMESPACE}:${key} ghcr.io/<you>/${name}@sha256:<digest>\``;
  });
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === "invalid_enum_value") return `must be one of ${issue.options.join(", ")}`;
  if (issue.code === "invalid_type" && issue.received === "nan") return issue.message;
  if (issue.path.length > 1) return `item ${issue.path.slice(1).join(".")}: ${issue.message}`;
  return issue.message;
}
