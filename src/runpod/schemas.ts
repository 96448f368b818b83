// zod schemas of the REST v2 answers the client reads (the spec's Endpoint, Pod, NetworkVolume,
// catalog types), checked at the boundary. They are built by functions, not module constants, so a
// serialized Pulumi provider captures `require("zod")` rather than zod's class instances.
// Unknown extra fields pass through: RunPod adds fields without a version bump.
import { z } from "zod";

export const VOLUME_TYPES = ["STANDARD", "HIGH_PERFORMANCE"] as const;
export const FLASHBOOT_MODES = ["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"] as const;
export const CLOUDS = ["SECURE", "COMMUNITY"] as const;
export const POD_STATUSES = ["PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR", "TERMINATED"] as const;
export const POD_ACTIONS = ["start", "stop", "restart", "terminate"] as const;

export function networkVolumeSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      size: z.number().int(),
      dataCenter: z.string(),
      type: z.enum(VOLUME_TYPES),
    })
    .passthrough();
}

export function scalingSchema() {
  return z.discriminatedUnion("type", [
    z.object({ type: z.literal("QUEUE_DELAY"), queueDelay: z.number() }),
    z.object({ type: z.literal("REQUEST_COUNT"), requestCount: z.number().int() }),
  ]);
}
export type EndpointScaling = z.infer<ReturnType<typeof scalingSchema>>;

export function endpointSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      type: z.enum(["QUEUE", "LOAD_BALANCER"]).optional(),
      image: z.string().optional(),
      env: z.record(z.string()).optional(),
      gpu: z
        .object({
          pools: z.array(z.string()),
          count: z.number().int().optional(),
          minCudaVersion: z.string().nullable().optional(),
          allowedCudaVersions: z.array(z.string()).optional(),
        })
        .passthrough()
        .nullable()
        .optional(),
      cpu: z.array(z.object({ id: z.string(), vcpuCount: z.number().int() }).passthrough()).optional(),
      workers: z.object({ min: z.number().int(), max: z.number().int(), idleTimeout: z.number().int().optional() }),
      scaling: scalingSchema(),
      dataCenterIds: z.array(z.string()),
      networkVolumes: z.array(z.string()),
      timeout: z.number().int(),
      flashboot: z.enum(FLASHBOOT_MODES),
      requestUrls: z.record(z.string()).optional(),
      createdAt: z.string(),
    })
    .passthrough();
}
export type Endpoint = z.infer<ReturnType<typeof endpointSchema>>;

export function podSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      status: z.enum(POD_STATUSES),
      image: z.string(),
      env: z.record(z.string()),
      ports: z.array(z.string()),
      disk: z.number().int(),
      cloud: z.enum(CLOUDS),
      dataCenterId: z.string().nullable(),
      cpu: z.object({ id: z.string(), vcpuCount: z.number().int(), memory: z.number().optional() }).passthrough().optional(),
      mounts: z
        .object({ network: z.array(z.object({ volumeId: z.string(), path: z.string() })).optional() })
        .passthrough(),
      cost: z.number(),
      runtime: z
        .object({ ports: z.array(z.object({ private: z.number().optional(), type: z.string().optional() }).passthrough()).optional() })
        .passthrough()
        .nullable(),
    })
    .passthrough();
}
export type Pod = z.infer<ReturnType<typeof podSchema>>;

export function gpuTypeSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      pool: z.string().nullable(),
      memory: z.number(),
      price: z.object({ secure: z.number(), community: z.number(), serverless: z.number().optional() }).passthrough(),
      /** The CUDA versions hosts with this GPU run; RunPod may leave it out. */
      cudaVersions: z.array(z.object({ version: z.string(), available: z.boolean() }).passthrough()).optional(),
    })
    .passthrough();
}
export type GpuType = z.infer<ReturnType<typeof gpuTypeSchema>>;

export function cpuTypeSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      group: z.string(),
      vcpu: z.object({ min: z.number().int(), max: z.number().int() }),
      ramGbPerVcpu: z.number(),
      price: z.object({ securePerVcpu: z.number(), serverlessPerVcpu: z.number() }).passthrough(),
    })
    .passthrough();
}
export type CpuType = z.infer<ReturnType<typeof cpuTypeSchema>>;

export function dataCenterSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      region: z.string(),
      networkVolumeTypes: z.array(z.string()),
      gpuAvailability: z.array(z.object({ id: z.string(), availability: z.string() }).passthrough()).optional(),
      cpuAvailability: z.array(z.object({ id: z.string(), availability: z.string() }).passthrough()).optional(),
    })
    .passthrough();
}

export function problemSchema() {
  return z
    .object({
      title: z.string().optional(),
      status: z.number().optional(),
      detail: z.string().optional(),
      errors: z.array(z.string()).optional(),
    })
    .passthrough();
}

// Request bodies (the spec's Create*/Update* shapes, as the client sends them).
export interface CreateNetworkVolumeBody {
  name: string;
  size: number;
  dataCenter: string;
  type?: (typeof VOLUME_TYPES)[number];
}
export interface UpdateNetworkVolumeBody {
  name?: string;
  size?: number;
}
export interface EndpointWorkersBody {
  min: number;
  max: number;
  idleTimeout: number;
}
export interface CreateEndpointBody {
  name: string;
  type: "QUEUE" | "LOAD_BALANCER";
  image?: string;
  env?: Record<string, string>;
  /** minCudaVersion: "" (PATCH only) removes it. */
  gpu?: { pools: string[]; count?: number; minCudaVersion?: string; allowedCudaVersions?: string[] };
  cpu?: { id: string; vcpuCount: number }[];
  workers?: EndpointWorkersBody;
  scaling: EndpointScaling;
  flashboot?: (typeof FLASHBOOT_MODES)[number];
  networkVolumes?: string[];
  dataCenterIds?: string[];
  timeout?: number;
}
export type UpdateEndpointBody = Partial<Omit<CreateEndpointBody, "type">>;
export interface PodMountsBody {
  network?: { volumeId: string; path: string }[];
}
export interface CreatePodBody {
  name: string;
  image: string;
  env?: Record<string, string>;
  ports?: string[];
  disk?: number;
  cloud?: (typeof CLOUDS)[number];
  cpu?: { id: string; vcpuCount: number };
  dataCenterIds?: string[];
  mounts?: PodMountsBody;
}
export interface UpdatePodBody {
  name?: string;
  image?: string;
  env?: Record<string, string>;
  ports?: string[];
  disk?: number;
  mounts?: PodMountsBody;
}
export type PodAction = (typeof POD_ACTIONS)[number];
