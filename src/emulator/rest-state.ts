// The emulator's REST v2 state, in memory: network volumes, serverless endpoints and pods, stored in
// the spec's answer shapes. Other emulator plugins read it through `app.runpodRest` (the job API and
// worker manager look endpoints up by id; they may also report workers for GET .../workers).
import { randomBytes } from "node:crypto";
import type { JobEndpoint } from "./job-store";

export interface StoredVolume {
  id: string;
  name: string;
  size: number;
  dataCenter: string;
  type: "STANDARD" | "HIGH_PERFORMANCE";
}

export interface StoredEndpoint {
  id: string;
  name: string;
  type: "QUEUE" | "LOAD_BALANCER";
  image: string;
  args: string;
  disk: number;
  ports: string[];
  env: Record<string, string>;
  registry: string | null;
  gpu?: { pools: string[]; count: number; excludedTypes?: string[]; allowedCudaVersions: string[]; minCudaVersion: string | null };
  cpu?: { id: string; vcpuCount: number; memory: number }[];
  workers: { min: number; max: number; idleTimeout: number };
  scaling: { type: "QUEUE_DELAY"; queueDelay: number } | { type: "REQUEST_COUNT"; requestCount: number };
  dataCenterIds: string[];
  networkVolumes: string[];
  timeout: number;
  flashboot: "OFF" | "FLASHBOOT" | "PRIORITY_FLASHBOOT";
  createdAt: string;
}

export interface StoredPod {
  id: string;
  name: string;
  status: "PROVISIONING" | "STARTING" | "RUNNING" | "EXITED" | "ERROR" | "TERMINATED";
  image: string;
  args: string;
  disk: number;
  mounts: { network?: { volumeId: string; path: string }[]; persistent?: { size: number; path: string } };
  ports: string[];
  env: Record<string, string>;
  registry: string | null;
  cloud: "SECURE" | "COMMUNITY";
  dataCenterId: string;
  cpu?: { id: string; vcpuCount: number; memory: number };
  gpu?: { id: string; count: number };
  locked: boolean;
  createdAt: string;
  startedAt: string | null;
}

/** What the job API and the worker manager need of an endpoint's config. */
export interface ServerlessEndpointConfig {
  id: string;
  name: string;
  image: string;
  env: Record<string, string>;
  gpuPools: string[];
  workersMin: number;
  workersMax: number;
  idleTimeout: number;
  executionTimeoutMs: number;
  flashboot: StoredEndpoint["flashboot"];
  networkVolumes: string[];
}

/** A worker as GET /v2/serverless/{id}/workers reports it (the spec's Worker). */
export interface ReportedWorker {
  id: string;
  status: "RUNNING" | "IDLE" | "INITIALIZING" | "THROTTLED" | "UNHEALTHY";
  isStale: boolean;
  gpuCount: number;
  [key: string]: unknown;
}

export function newId(): string {
  // RunPod ids are short lowercase alphanumerics.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(10), (byte) => alphabet[byte % alphabet.length]).join("");
}

export class RestState {
  readonly volumes = new Map<string, StoredVolume>();
  readonly endpoints = new Map<string, StoredEndpoint>();
  readonly pods = new Map<string, StoredPod>();
  /** Set by the worker manager to report live workers; by default an endpoint has none. */
  workersOf: (endpointId: string) => ReportedWorker[] = () => [];

  /** An endpoint's config by id; undefined when it does not exist (or was deleted). */
  getEndpointConfig(endpointId: string): ServerlessEndpointConfig | undefined {
    const endpoint = this.endpoints.get(endpointId);
    if (endpoint === undefined) return undefined;
    return {
      id: endpoint.id,
      name: endpoint.name,
      image: endpoint.image,
      env: { ...endpoint.env },
      gpuPools: [...(endpoint.gpu?.pools ?? [])],
      workersMin: endpoint.workers.min,
      workersMax: endpoint.workers.max,
      idleTimeout: endpoint.workers.idleTimeout,
      executionTimeoutMs: endpoint.timeout,
      flashboot: endpoint.flashboot,
      networkVolumes: [...endpoint.networkVolumes],
    };
  }

  /** The same, in the job store's shape: pass as `jobs.endpoints` (an EndpointLookup). */
  jobEndpoint = (endpointId: string): JobEndpoint | undefined => {
    const config = this.getEndpointConfig(endpointId);
    if (config === undefined) return undefined;
    return {
      id: config.id,
      workersMax: config.workersMax,
      workersMin: config.workersMin,
      idleTimeout: config.idleTimeout,
      executionTimeoutMs: config.executionTimeoutMs,
      env: config.env,
    };
  };

  snapshot() {
    return {
      networkVolumes: [...this.volumes.values()],
      endpoints: [...this.endpoints.values()],
      pods: [...this.pods.values()],
    };
  }
}
