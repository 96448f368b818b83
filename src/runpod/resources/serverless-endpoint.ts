// ServerlessEndpoint: a RunPod queue-based serverless endpoint with its container config, as a
// Pulumi dynamic resource on the REST v2 client. Everything is updated in place by PATCH except the
// compute family (GPU pools vs CPU flavors), which RunPod fixes at creation. Every scaling field
// (workers min/max/idleTimeout and the scaling rule) is always sent whole, since RunPod fills an
// omitted one with its own default.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { FLASHBOOT_MODES, type CreateEndpointBody, type Endpoint, type UpdateEndpointBody } from "../schemas";
import { UNKNOWN, changedKeys, defineResourceProvider } from "./provider-factory";

export interface ServerlessEndpointArgs {
  /** Endpoint name. */
  readonly name: pulumi.Input<string>;
  /** Worker container image. */
  readonly image: pulumi.Input<string>;
  /** Worker environment variables. */
  readonly env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** GPU pools in order of preference, e.g. ["ADA_24"]; give this or `cpu`. */
  readonly gpuPools?: pulumi.Input<pulumi.Input<string>[]>;
  /** GPUs per worker; default 1. */
  readonly gpuCount?: pulumi.Input<number>;
  /** Lowest CUDA version a worker's host must offer, e.g. "13.0" (what the image is built for); GPU endpoints only. */
  readonly minCudaVersion?: pulumi.Input<string>;
  /** CPU flavors for a CPU endpoint; give this or `gpuPools`. */
  readonly cpu?: pulumi.Input<pulumi.Input<{ flavor: string; vcpuCount: number }>[]>;
  /** Workers kept running without work (each one is billed). */
  readonly workersMin: pulumi.Input<number>;
  /** Most workers at once. */
  readonly workersMax: pulumi.Input<number>;
  /** Seconds a worker stays up without work, 1–3600. */
  readonly idleTimeout: pulumi.Input<number>;
  /** Scale up when a job waits this many seconds (QUEUE_DELAY); give this or `requestCount`. Default 4. */
  readonly queueDelay?: pulumi.Input<number>;
  /** Scale up per this many queued requests (REQUEST_COUNT). */
  readonly requestCount?: pulumi.Input<number>;
  /** OFF, FLASHBOOT or PRIORITY_FLASHBOOT. Default OFF. */
  readonly flashboot?: pulumi.Input<(typeof FLASHBOOT_MODES)[number]>;
  /** Per-job execution timeout in ms. Default 300000. */
  readonly executionTimeoutMs?: pulumi.Input<number>;
  /** Network volume attached to workers (at /runpod-volume). */
  readonly networkVolumeId?: pulumi.Input<string>;
  /** Data centers workers may run in. */
  readonly dataCenterIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Worker container disk in GB. */
  readonly containerDiskGb?: pulumi.Input<number>;
}

export interface ServerlessEndpointInputs {
  name: string;
  image: string;
  env: Record<string, string>;
  gpuPools?: string[];
  gpuCount?: number;
  minCudaVersion?: string;
  cpu?: { flavor: string; vcpuCount: number }[];
  workersMin: number;
  workersMax: number;
  idleTimeout: number;
  queueDelay?: number;
  requestCount?: number;
  flashboot: (typeof FLASHBOOT_MODES)[number];
  executionTimeoutMs: number;
  networkVolumeId?: string;
  dataCenterIds: string[];
  containerDiskGb?: number;
}

export interface ServerlessEndpointOutputs extends ServerlessEndpointInputs {
  /** The job API URLs: run, runSync, status, stream, cancel, retry, purgeQueue, health. */
  requestUrls: Record<string, string>;
}

const int = (what: string) => z.number({ required_error: `required: ${what}` }).int(`allowed: ${what}`);

export function serverlessEndpointInputSchema() {
  return z
    .object({
      name: z.string({ required_error: "required: a non-empty name" }).min(1, "allowed: a non-empty name"),
      image: z.string({ required_error: "required: a container image" }).min(1, "allowed: a container image reference"),
      env: z.record(z.string({ invalid_type_error: "allowed: string values" })).default({}),
      gpuPools: z.array(z.string().min(1)).min(1, "allowed: at least one GPU pool id such as ADA_24").optional(),
      gpuCount: int("an integer ≥ 1").min(1, "allowed: an integer ≥ 1").optional(),
      minCudaVersion: z.string().regex(/^\d+\.\d+$/, 'allowed: a CUDA version such as "13.0"').optional(),
      cpu: z
        .array(z.object({ flavor: z.string().min(1), vcpuCount: int("an integer ≥ 2").min(2, "allowed: an integer ≥ 2") }).strict())
        .min(1, "allowed: at least one CPU flavor")
        .optional(),
      workersMin: int("an integer ≥ 0").min(0, "allowed: an integer ≥ 0"),
      workersMax: int("an integer ≥ 0").min(0, "allowed: an integer ≥ 0"),
      idleTimeout: int("an integer from 1 to 3600 (seconds)").min(1, "allowed: 1 to 3600 seconds").max(3600, "allowed: 1 to 3600 seconds"),
      queueDelay: z.number().min(0.5, "allowed: a number of seconds ≥ 0.5").optional(),
      requestCount: int("an integer ≥ 1").min(1, "allowed: an integer ≥ 1").optional(),
      flashboot: z.enum(FLASHBOOT_MODES, { errorMap: () => ({ message: `allowed: ${FLASHBOOT_MODES.join(", ")}` }) }).default("OFF"),
      executionTimeoutMs: int("an integer number of ms ≥ 1000").min(1000, "allowed: at least 1000 ms").default(300_000),
      networkVolumeId: z.string().min(1).optional(),
      dataCenterIds: z.array(z.string().min(1)).default([]),
      containerDiskGb: int("an integer number of GB ≥ 1").min(1, "allowed: at least 1 GB").optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      if ((v.gpuPools === undefined) === (v.cpu === undefined)) {
        ctx.addIssue({ code: "custom", path: ["gpuPools"], message: "allowed: exactly one of gpuPools and cpu" });
      }
      if (v.minCudaVersion !== undefined && v.cpu !== undefined) {
        ctx.addIssue({ code: "custom", path: ["minCudaVersion"], message: "allowed: only with gpuPools (a CPU endpoint has no CUDA)" });
      }
      if (v.queueDelay !== undefined && v.requestCount !== undefined) {
        ctx.addIssue({ code: "custom", path: ["requestCount"], message: "allowed: only one of queueDelay and requestCount" });
      }
      if (v.workersMin > v.workersMax) {
        ctx.addIssue({ code: "custom", path: ["workersMin"], message: `allowed: at most workersMax (${v.workersMax})` });
      }
    })
    // Defaults written into the inputs, so state and inputs compare equal when nothing changed.
    .transform((v) => ({
      ...v,
      ...(v.queueDelay === undefined && v.requestCount === undefined ? { queueDelay: 4 } : {}),
      ...(v.gpuPools !== undefined && v.gpuCount === undefined ? { gpuCount: 1 } : {}),
    }));
}

/** The request body parts that always travel together. */
function scalingBody(inputs: ServerlessEndpointInputs) {
  return {
    workers: { min: inputs.workersMin, max: inputs.workersMax, idleTimeout: inputs.idleTimeout },
    scaling:
      inputs.requestCount !== undefined
        ? { type: "REQUEST_COUNT" as const, requestCount: inputs.requestCount }
        : { type: "QUEUE_DELAY" as const, queueDelay: inputs.queueDelay ?? 4 },
  };
}

/** `clearCuda`: on PATCH an empty minCudaVersion removes it (the spec's UpdateEndpointGpuConfig); a create leaves it out. */
function computeBody(inputs: ServerlessEndpointInputs, clearCuda = false) {
  const cuda = inputs.minCudaVersion !== undefined ? { minCudaVersion: inputs.minCudaVersion } : clearCuda ? { minCudaVersion: "" } : {};
  return inputs.gpuPools !== undefined
    ? { gpu: { pools: inputs.gpuPools, count: inputs.gpuCount ?? 1, ...cuda } }
    : { cpu: (inputs.cpu ?? []).map((c) => ({ id: c.flavor, vcpuCount: c.vcpuCount })) };
}

/** State from RunPod's answer, in the shape of our inputs, so a refresh shows drift as a diff. */
function endpointOutputs(endpoint: Endpoint, previous: Partial<ServerlessEndpointInputs>): ServerlessEndpointOutputs {
  const scaling = endpoint.scaling;
  return {
    name: endpoint.name,
    image: endpoint.image ?? "",
    env: endpoint.env ?? {},
    ...(endpoint.gpu ? { gpuPools: endpoint.gpu.pools, gpuCount: endpoint.gpu.count ?? 1 } : {}),
    ...(endpoint.gpu?.minCudaVersion ? { minCudaVersion: endpoint.gpu.minCudaVersion } : {}),
    ...(endpoint.cpu ? { cpu: endpoint.cpu.map((c) => ({ flavor: c.id, vcpuCount: c.vcpuCount })) } : {}),
    workersMin: endpoint.workers.min,
    workersMax: endpoint.workers.max,
    idleTimeout: endpoint.workers.idleTimeout ?? 10,
    ...(scaling.type === "QUEUE_DELAY" ? { queueDelay: scaling.queueDelay } : { requestCount: scaling.requestCount }),
    flashboot: endpoint.flashboot,
    executionTimeoutMs: endpoint.timeout,
    ...(endpoint.networkVolumes[0] !== undefined ? { networkVolumeId: endpoint.networkVolumes[0] } : {}),
    dataCenterIds: endpoint.dataCenterIds,
    ...(previous.containerDiskGb !== undefined && typeof endpoint.disk === "number" ? { containerDiskGb: endpoint.disk as number } : {}),
    requestUrls: endpoint.requestUrls ?? {},
  };
}

const FAMILY = (v: Partial<ServerlessEndpointInputs>) => (v.gpuPools !== undefined ? "gpu" : v.cpu !== undefined ? "cpu" : UNKNOWN);
const UPDATABLE = [
  "name", "image", "env", "gpuPools", "gpuCount", "minCudaVersion", "cpu", "workersMin", "workersMax", "idleTimeout", "queueDelay",
  "requestCount", "flashboot", "executionTimeoutMs", "networkVolumeId", "dataCenterIds", "containerDiskGb",
] as const;

export const serverlessEndpointProvider = defineResourceProvider<ServerlessEndpointInputs, ServerlessEndpointOutputs>({
  kind: "ServerlessEndpoint",
  inputSchema: serverlessEndpointInputSchema,
  immutable: [],
  updatable: UPDATABLE,
  diffRules(olds, news) {
    // RunPod fixes the compute family (GPU or CPU) at creation; scale rules default to QUEUE_DELAY 4,
    // so an equal default is no change.
    if (FAMILY(olds) === FAMILY(news) || FAMILY(news) === UNKNOWN) return [];
    return changedKeys(olds, news, ["gpuPools", "cpu"]);
  },
  async create(client, inputs) {
    const body: CreateEndpointBody & { disk?: number } = {
      name: inputs.name,
      type: "QUEUE",
      image: inputs.image,
      env: inputs.env ?? {},
      ...computeBody(inputs),
      ...scalingBody(inputs),
      flashboot: inputs.flashboot,
      timeout: inputs.executionTimeoutMs,
      networkVolumes: inputs.networkVolumeId ? [inputs.networkVolumeId] : [],
      dataCenterIds: inputs.dataCenterIds ?? [],
      ...(inputs.containerDiskGb !== undefined ? { disk: inputs.containerDiskGb } : {}),
    };
    const endpoint = await client.endpoints.create(body);
    return { id: endpoint.id, outs: endpointOutputs(endpoint, inputs) };
  },
  async read(client, id, previous) {
    return endpointOutputs(await client.endpoints.get(id), previous);
  },
  async update(client, id, news, changed) {
    // Every scaling field travels whole: RunPod fills an omitted one with its own default.
    const body: UpdateEndpointBody & { disk?: number } = { ...scalingBody(news) };
    if (changed.includes("name")) body.name = news.name;
    if (changed.includes("image")) body.image = news.image;
    if (changed.includes("env")) body.env = news.env ?? {};
    if (["gpuPools", "gpuCount", "minCudaVersion", "cpu"].some((key) => changed.includes(key))) Object.assign(body, computeBody(news, true));
    if (changed.includes("flashboot")) body.flashboot = news.flashboot;
    if (changed.includes("executionTimeoutMs")) body.timeout = news.executionTimeoutMs;
    if (changed.includes("networkVolumeId")) body.networkVolumes = news.networkVolumeId ? [news.networkVolumeId] : [];
    if (changed.includes("dataCenterIds")) body.dataCenterIds = news.dataCenterIds ?? [];
    if (changed.includes("containerDiskGb") && news.containerDiskGb !== undefined) body.disk = news.containerDiskGb;
    return endpointOutputs(await client.endpoints.update(id, body), news);
  },
  async remove(client, id) {
    await client.endpoints.delete(id);
  },
});

export class ServerlessEndpoint extends pulumi.dynamic.Resource {
  public readonly name!: pulumi.Output<string>;
  public readonly image!: pulumi.Output<string>;
  public readonly gpuPools!: pulumi.Output<string[] | undefined>;
  public readonly minCudaVersion!: pulumi.Output<string | undefined>;
  public readonly workersMin!: pulumi.Output<number>;
  public readonly workersMax!: pulumi.Output<number>;
  public readonly idleTimeout!: pulumi.Output<number>;
  public readonly flashboot!: pulumi.Output<string>;
  public readonly executionTimeoutMs!: pulumi.Output<number>;
  public readonly networkVolumeId!: pulumi.Output<string | undefined>;
  public readonly dataCenterIds!: pulumi.Output<string[]>;
  /** The job API URLs of this endpoint (run, runSync, status, stream, cancel, retry, purgeQueue, health). */
  public readonly requestUrls!: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: ServerlessEndpointArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(serverlessEndpointProvider, name, { ...args, requestUrls: undefined }, opts, "runpod", "ServerlessEndpoint");
  }
}
