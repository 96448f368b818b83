// /v2/serverless: serverless endpoints (create, list, get, update, delete) with their request URLs, and
// GET /v2/serverless/{id}/workers from the worker manager. The body's shape was checked against the spec;
// the rules across fields (catalog ids, workers.min ≤ max, volumes in the endpoint's data centers, one
// compute family for life) are RunPod's 400s.
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { CATALOG_CPUS, CATALOG_DATACENTERS, CATALOG_GPUS } from "../catalog-data";
import { newId, type StoredEndpoint } from "../rest-state";
import { problem, type ById, type ContainerConfigBody, type RestV2Context } from "./context";

type GpuInput = { pools: string[]; count?: number; excludedTypes?: string[]; allowedCudaVersions?: string[]; minCudaVersion?: string | null };
type CpuInput = { id: string; vcpuCount: number }[];

/** CreateEndpointRequest as the emulator reads it (the spec's schema has already accepted it). */
interface EndpointBody extends ContainerConfigBody {
  type?: StoredEndpoint["type"];
  gpu?: GpuInput;
  cpu?: CpuInput;
  workers?: Partial<StoredEndpoint["workers"]>;
  scaling?: StoredEndpoint["scaling"];
  dataCenterIds?: string[];
  networkVolumes?: string[];
  timeout?: number;
  flashboot?: StoredEndpoint["flashboot"];
}

const dataCenterIds = new Set(CATALOG_DATACENTERS.map((dc) => dc.id));
const cpuFlavors = new Map(CATALOG_CPUS.map((c) => [c.id, c]));
const gpuPools = new Set(CATALOG_GPUS.map((g) => g.pool));

const origin = (request: FastifyRequest) => `${request.protocol}://${request.headers.host ?? request.hostname}`;

function endpointView(endpoint: StoredEndpoint, request: FastifyRequest) {
  const base = `${origin(request)}/v2/${endpoint.id}`;
  return {
    ...endpoint,
    requestUrls: {
      run: `${base}/run`, runSync: `${base}/runsync`, status: `${base}/status/{job_id}`,
      stream: `${base}/stream/{job_id}`, cancel: `${base}/cancel/{job_id}`, retry: `${base}/retry/{job_id}`,
      purgeQueue: `${base}/purge-queue`, health: `${base}/health`,
    },
  };
}

const cpuWithMemory = (list: CpuInput) => list.map((c) => ({ ...c, memory: c.vcpuCount * (cpuFlavors.get(c.id)?.ramGbPerVcpu ?? 4) }));
const gpuConfig = (gpu: GpuInput): NonNullable<StoredEndpoint["gpu"]> => ({
  pools: gpu.pools, count: gpu.count ?? 1,
  ...(gpu.excludedTypes ? { excludedTypes: gpu.excludedTypes } : {}),
  allowedCudaVersions: gpu.allowedCudaVersions ?? [], minCudaVersion: gpu.minCudaVersion || null,
});

export const endpointsPlugin: FastifyPluginAsync<RestV2Context> = async (api, { state, validBody }) => {
  /** Checks that hold across fields (the API's 400s); returns the failure or undefined. */
  function endpointRules(endpoint: StoredEndpoint): string | undefined {
    if ((endpoint.gpu === undefined) === (endpoint.cpu === undefined)) return "exactly one of gpu and cpu is required";
    for (const pool of endpoint.gpu?.pools ?? []) if (!gpuPools.has(pool)) return `gpu pool ${pool} does not exist; known: ${[...gpuPools].join(", ")}`;
    for (const c of endpoint.cpu ?? []) if (!cpuFlavors.has(c.id)) return `cpu ${c.id} does not exist`;
    for (const id of endpoint.dataCenterIds) if (!dataCenterIds.has(id)) return `dataCenterIds: ${id} does not exist`;
    if (endpoint.workers.min > endpoint.workers.max) return `workers.min ${endpoint.workers.min} exceeds workers.max ${endpoint.workers.max}`;
    for (const volumeId of endpoint.networkVolumes) {
      const volume = state.volumes.get(volumeId);
      if (volume === undefined) return `networkVolumes: ${volumeId} does not exist`;
      if (endpoint.dataCenterIds.length > 0 && !endpoint.dataCenterIds.includes(volume.dataCenter)) {
        return `network volume ${volumeId} is in ${volume.dataCenter}, outside dataCenterIds ${endpoint.dataCenterIds.join(", ")}`;
      }
    }
    return undefined;
  }

  api.get("/v2/serverless", async (request) => ({ endpoints: [...state.endpoints.values()].map((e) => endpointView(e, request)) }));

  api.post<{ Body: EndpointBody }>("/v2/serverless", async (request, reply) => {
    if (!validBody(reply, "CreateEndpointRequest", request.body)) return reply;
    const body = request.body;
    if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated; send the container config");
    const endpoint: StoredEndpoint = {
      id: newId(), name: body.name ?? "", type: body.type ?? "QUEUE", image: body.image ?? "", args: body.args ?? "", disk: body.disk ?? 20,
      ports: body.ports ?? [], env: body.env ?? {}, registry: body.registry ?? null,
      ...(body.gpu ? { gpu: gpuConfig(body.gpu) } : {}),
      ...(body.cpu ? { cpu: cpuWithMemory(body.cpu) } : {}),
      workers: { min: 0, max: 3, idleTimeout: 10, ...body.workers },
      scaling: body.scaling ?? { type: "QUEUE_DELAY", queueDelay: 4 }, dataCenterIds: body.dataCenterIds ?? [], networkVolumes: body.networkVolumes ?? [],
      timeout: body.timeout ?? 300_000, flashboot: body.flashboot ?? "OFF", createdAt: new Date().toISOString(),
    };
    const broken = endpointRules(endpoint);
    if (broken !== undefined) return problem(reply, 400, broken);
    state.endpoints.set(endpoint.id, endpoint);
    return reply.code(201).send(endpointView(endpoint, request));
  });

  api.get<ById>("/v2/serverless/:id", async (request, reply) => {
    const endpoint = state.endpoints.get(request.params.id);
    return endpoint ? endpointView(endpoint, request) : problem(reply, 404, `endpoint ${request.params.id} not found`);
  });

  api.patch<ById & { Body: EndpointBody }>("/v2/serverless/:id", async (request, reply) => {
    const endpoint = state.endpoints.get(request.params.id);
    if (endpoint === undefined) return problem(reply, 404, `endpoint ${request.params.id} not found`);
    if (!validBody(reply, "UpdateEndpointRequest", request.body)) return reply;
    const { gpu, cpu, workers, templateId, ...rest } = request.body;
    if ((gpu && endpoint.cpu) || (cpu && endpoint.gpu)) {
      return problem(reply, 400, "the compute family (gpu or cpu) of an endpoint cannot change; create a new endpoint");
    }
    if (templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated");
    const next: StoredEndpoint = {
      ...endpoint,
      ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
      ...(gpu ? { gpu: gpuConfig({ ...endpoint.gpu, ...gpu }) } : {}),
      ...(cpu ? { cpu: cpuWithMemory(cpu) } : {}),
      workers: { ...endpoint.workers, ...workers },
    };
    const broken = endpointRules(next);
    if (broken !== undefined) return problem(reply, 400, broken);
    state.endpoints.set(next.id, next);
    return endpointView(next, request);
  });

  api.delete<ById>("/v2/serverless/:id", async (request, reply) => {
    if (!state.endpoints.delete(request.params.id)) return problem(reply, 404, `endpoint ${request.params.id} not found`);
    return reply.code(204).send();
  });

  api.get<ById>("/v2/serverless/:id/workers", async (request, reply) => {
    const endpoint = state.endpoints.get(request.params.id);
    if (endpoint === undefined) return problem(reply, 404, `endpoint ${request.params.id} not found`);
    const workers = state.workersOf(endpoint.id);
    const count = (status: string) => workers.filter((w) => w.status === status).length;
    return {
      workers,
      summary: {
        running: count("RUNNING"), idle: count("IDLE"), initializing: count("INITIALIZING"),
        throttled: count("THROTTLED"), unhealthy: count("UNHEALTHY"), total: workers.length,
      },
      endpointVersion: null,
    };
  });
};
