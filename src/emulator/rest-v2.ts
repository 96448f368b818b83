// REST v2 of the local RunPod (api.runpod.io/v2): network volumes, serverless endpoints (with
// /workers), pods (with /action) and the catalog, state in memory, answering as the spec says:
// 201/200/204, problem+json 400 (malformed or against the API's rules), 401 (missing or wrong key),
// 404, 422 (body against the spec's schema, additionalProperties false included).
// Registered first: it installs the global fault-injection hooks that every later route inherits,
// and decorates the app with `runpodRest` (the state and the endpoint accessor).
// What runs is reported to the billing ledger (`app.billing`, decorated by the billing plugin registered
// after this one, so it is looked up per request): CPU pods while RUNNING, network volumes while they exist.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CATALOG_CPUS, CATALOG_DATACENTERS, CATALOG_GPUS } from "./catalog-data";
import { installFaults } from "./faults";
import { createBodyValidators } from "./rest-validation";
import { RestState, newId, type StoredEndpoint, type StoredPod, type StoredVolume } from "./rest-state";

export interface RestV2Options {
  apiKey: string;
}

declare module "fastify" {
  interface FastifyInstance {
    runpodRest: RestState;
  }
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  409: "Conflict",
  422: "Unprocessable Entity",
};

function problem(reply: FastifyReply, status: number, detail: string, errors?: string[]) {
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ title: TITLES[status] ?? "Error", status, detail, ...(errors && errors.length ? { errors } : {}) });
}

type Params = { id: string };

async function restV2Plugin(app: FastifyInstance, options: RestV2Options): Promise<void> {
  const state = new RestState();
  app.decorate("runpodRest", state);
  installFaults(app);
  app.get("/_emulator/state", async () => state.snapshot());

  const validators = createBodyValidators();
  const dataCenterIds = new Set(CATALOG_DATACENTERS.map((dc) => dc.id));
  const cpuFlavors = new Map(CATALOG_CPUS.map((c) => [c.id, c]));
  const gpuPools = new Set(CATALOG_GPUS.map((g) => g.pool));

  // Billing: the ledger and its clock, when the billing plugin is registered (it is, in buildEmulator).
  const ledger = () => (app.hasDecorator("billing") ? app.billing : undefined);
  /** A RUNNING CPU pod bills from now at its current size (GPU pods are not priced by the ledger). */
  const billPodRunning = (pod: StoredPod): void => {
    const billing = ledger();
    if (billing === undefined || pod.status !== "RUNNING" || pod.cpu === undefined) return;
    billing.trackPod({
      podId: pod.id, vcpu: pod.cpu.vcpuCount, flavor: pod.cpu.id as Parameters<typeof billing.trackPod>[0]["flavor"],
      containerDiskGb: pod.disk, startedAt: billing.now(),
    });
  };
  const billPodStopped = (podId: string): void => ledger()?.stopPod(podId);

  // Everything below is encapsulated: the auth hook and error handler apply to REST v2 routes only.
  await app.register(async (api) => {
    api.addHook("onRequest", async (request, reply) => {
      const header = request.headers.authorization;
      if (header === undefined || !header.startsWith("Bearer ")) return problem(reply, 401, "missing bearer token");
      if (header.slice("Bearer ".length) !== options.apiKey) return problem(reply, 401, "invalid bearer token");
    });
    api.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) return reply.code(500).type("application/problem+json").send({ title: "Internal Server Error", status: 500, detail: "internal error" });
      return problem(reply, status === 415 ? 400 : status, error.message);
    });

    /** The spec's schema check; answers 422 and returns false when the body fails it. */
    function valid(reply: FastifyReply, name: keyof typeof validators, body: unknown): boolean {
      const errors = validators[name](body);
      if (errors.length === 0) return true;
      void problem(reply, 422, "Request validation failed.", errors);
      return false;
    }
    const origin = (request: FastifyRequest) => `${request.protocol}://${request.headers.host ?? request.hostname}`;

    // ---- network volumes ----
    api.get("/v2/network-volumes", async () => ({ networkVolumes: [...state.volumes.values()] }));
    api.post("/v2/network-volumes", async (request, reply) => {
      if (!valid(reply, "CreateNetworkVolumeRequest", request.body)) return reply;
      const body = request.body as { name: string; size: number; dataCenter: string; type?: StoredVolume["type"] };
      const dc = CATALOG_DATACENTERS.find((d) => d.id === body.dataCenter);
      if (dc === undefined) return problem(reply, 400, `dataCenter ${body.dataCenter} does not exist; known: ${[...dataCenterIds].join(", ")}`);
      const type = body.type ?? (dc.networkVolumeTypes[0] as StoredVolume["type"]);
      if (!dc.networkVolumeTypes.includes(type)) return problem(reply, 400, `dataCenter ${dc.id} offers no ${type} volumes`);
      const volume: StoredVolume = { id: newId(), name: body.name, size: body.size, dataCenter: dc.id, type };
      state.volumes.set(volume.id, volume);
      const billing = ledger();
      billing?.trackVolume({ networkVolumeId: volume.id, sizeGb: volume.size, type: volume.type, createdAt: billing.now() });
      return reply.code(201).send(volume);
    });
    api.get<{ Params: Params }>("/v2/network-volumes/:id", async (request, reply) => {
      const volume = state.volumes.get(request.params.id);
      return volume ?? problem(reply, 404, `network volume ${request.params.id} not found`);
    });
    api.patch<{ Params: Params }>("/v2/network-volumes/:id", async (request, reply) => {
      const volume = state.volumes.get(request.params.id);
      if (volume === undefined) return problem(reply, 404, `network volume ${request.params.id} not found`);
      if (!valid(reply, "UpdateNetworkVolumeRequest", request.body)) return reply;
      const body = request.body as { name?: string; size?: number };
      if (body.size !== undefined && body.size < volume.size) {
        return problem(reply, 400, `size ${body.size} is smaller than the current ${volume.size} GB; network volume storage cannot be reduced`);
      }
      const grown = body.size !== undefined && body.size !== volume.size;
      Object.assign(volume, body);
      if (grown) ledger()?.resizeVolume(volume.id, volume.size);
      return volume;
    });
    api.delete<{ Params: Params }>("/v2/network-volumes/:id", async (request, reply) => {
      const id = request.params.id;
      if (!state.volumes.has(id)) return problem(reply, 404, `network volume ${id} not found`);
      state.volumes.delete(id);
      ledger()?.deleteVolume(id);
      return reply.code(204).send();
    });

    // ---- serverless endpoints ----
    const endpointView = (endpoint: StoredEndpoint, request: FastifyRequest) => {
      const base = `${origin(request)}/v2/${endpoint.id}`;
      return {
        ...endpoint,
        requestUrls: {
          run: `${base}/run`, runSync: `${base}/runsync`, status: `${base}/status/{job_id}`,
          stream: `${base}/stream/{job_id}`, cancel: `${base}/cancel/{job_id}`, retry: `${base}/retry/{job_id}`,
          purgeQueue: `${base}/purge-queue`, health: `${base}/health`,
        },
      };
    };
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
    const cpuWithMemory = (list: { id: string; vcpuCount: number }[]) =>
      list.map((c) => ({ ...c, memory: c.vcpuCount * (cpuFlavors.get(c.id)?.ramGbPerVcpu ?? 4) }));
    const gpuConfig = (gpu: { pools: string[]; count?: number; excludedTypes?: string[]; allowedCudaVersions?: string[]; minCudaVersion?: string }) => ({
      pools: gpu.pools, count: gpu.count ?? 1,
      ...(gpu.excludedTypes ? { excludedTypes: gpu.excludedTypes } : {}),
      allowedCudaVersions: gpu.allowedCudaVersions ?? [], minCudaVersion: gpu.minCudaVersion || null,
    });

    api.get("/v2/serverless", async (request) => ({ endpoints: [...state.endpoints.values()].map((e) => endpointView(e, request)) }));
    api.post("/v2/serverless", async (request, reply) => {
      if (!valid(reply, "CreateEndpointRequest", request.body)) return reply;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const body = request.body as any;
      if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated; send the container config");
      const endpoint: StoredEndpoint = {
        id: newId(), name: body.name, type: body.type, image: body.image, args: body.args ?? "", disk: body.disk ?? 20,
        ports: body.ports ?? [], env: body.env ?? {}, registry: body.registry ?? null,
        ...(body.gpu ? { gpu: gpuConfig(body.gpu) } : {}),
        ...(body.cpu ? { cpu: cpuWithMemory(body.cpu) } : {}),
        workers: { min: 0, max: 3, idleTimeout: 10, ...body.workers },
        scaling: body.scaling, dataCenterIds: body.dataCenterIds ?? [], networkVolumes: body.networkVolumes ?? [],
        timeout: body.timeout ?? 300_000, flashboot: body.flashboot ?? "OFF", createdAt: new Date().toISOString(),
      };
      const broken = endpointRules(endpoint);
      if (broken !== undefined) return problem(reply, 400, broken);
      state.endpoints.set(endpoint.id, endpoint);
      return reply.code(201).send(endpointView(endpoint, request));
    });
    api.get<{ Params: Params }>("/v2/serverless/:id", async (request, reply) => {
      const endpoint = state.endpoints.get(request.params.id);
      return endpoint ? endpointView(endpoint, request) : problem(reply, 404, `endpoint ${request.params.id} not found`);
    });
    api.patch<{ Params: Params }>("/v2/serverless/:id", async (request, reply) => {
      const endpoint = state.endpoints.get(request.params.id);
      if (endpoint === undefined) return problem(reply, 404, `endpoint ${request.params.id} not found`);
      if (!valid(reply, "UpdateEndpointRequest", request.body)) return reply;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const body = request.body as any;
      if ((body.gpu && endpoint.cpu) || (body.cpu && endpoint.gpu)) {
        return problem(reply, 400, "the compute family (gpu or cpu) of an endpoint cannot change; create a new endpoint");
      }
      if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated");
      const next: StoredEndpoint = {
        ...endpoint,
        ...body,
        ...(body.gpu ? { gpu: gpuConfig({ ...endpoint.gpu, ...body.gpu }) } : {}),
        ...(body.cpu ? { cpu: cpuWithMemory(body.cpu) } : {}),
        workers: { ...endpoint.workers, ...body.workers },
      };
      const broken = endpointRules(next);
      if (broken !== undefined) return problem(reply, 400, broken);
      state.endpoints.set(next.id, next);
      return endpointView(next, request);
    });
    api.delete<{ Params: Params }>("/v2/serverless/:id", async (request, reply) => {
      if (!state.endpoints.delete(request.params.id)) return problem(reply, 404, `endpoint ${request.params.id} not found`);
      return reply.code(204).send();
    });
    api.get<{ Params: Params }>("/v2/serverless/:id/workers", async (request, reply) => {
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

    // ---- pods ----
    const actionsOf = (pod: StoredPod) => (pod.status === "EXITED" ? ["start", "terminate"] : ["stop", "restart", "terminate"]);
    const podView = (pod: StoredPod) => {
      const hourly = pod.cpu ? pod.cpu.vcpuCount * (cpuFlavors.get(pod.cpu.id)?.price.securePerVcpu ?? 0.04) : 0.69;
      const running = pod.status === "RUNNING";
      return {
        ...pod,
        actions: actionsOf(pod),
        cudaVersion: null,
        ssh: { proxy: null, direct: null },
        template: null,
        cost: Math.round(hourly * 1000) / 1000,
        globalNetworking: { enabled: false },
        runtime: running
          ? {
              uptime: Math.floor((Date.now() - Date.parse(pod.startedAt ?? pod.createdAt)) / 1000),
              ports: pod.ports.map((p) => {
                const [port, type] = p.split("/");
                return { private: Number(port), public: null, type: type ?? "http", ip: null };
              }),
            }
          : null,
      };
    };
    function podRules(pod: StoredPod): string | undefined {
      if ((pod.cpu === undefined) === (pod.gpu === undefined)) return "exactly one of cpu and gpu is required";
      if (pod.cpu) {
        const flavor = cpuFlavors.get(pod.cpu.id);
        if (flavor === undefined) return `cpu.id ${pod.cpu.id} does not exist; known: ${[...cpuFlavors.keys()].join(", ")}`;
        if (pod.cpu.vcpuCount < flavor.vcpu.min || pod.cpu.vcpuCount > flavor.vcpu.max) {
          return `cpu.vcpuCount ${pod.cpu.vcpuCount} is outside ${flavor.vcpu.min}–${flavor.vcpu.max} for ${flavor.id}`;
        }
      }
      for (const mount of pod.mounts.network ?? []) {
        const volume = state.volumes.get(mount.volumeId);
        if (volume === undefined) return `mounts.network: volume ${mount.volumeId} does not exist`;
        if (volume.dataCenter !== pod.dataCenterId) return `network volume ${mount.volumeId} is in ${volume.dataCenter}, the pod in ${pod.dataCenterId}`;
      }
      return undefined;
    }

    api.get("/v2/pods", async () => ({ pods: [...state.pods.values()].map(podView) }));
    api.post("/v2/pods", async (request, reply) => {
      if (!valid(reply, "CreatePodRequest", request.body)) return reply;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const body = request.body as any;
      if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated; send the container config");
      const requested: string[] = body.dataCenterIds ?? [];
      for (const id of requested) if (!dataCenterIds.has(id)) return problem(reply, 400, `dataCenterIds: ${id} does not exist`);
      // A pod with a network volume must run where the volume is.
      const volumeDc = state.volumes.get(body.mounts?.network?.[0]?.volumeId ?? "")?.dataCenter;
      const dataCenterId = volumeDc && (requested.length === 0 || requested.includes(volumeDc)) ? volumeDc : (requested[0] ?? "EU-RO-1");
      const now = new Date().toISOString();
      const pod: StoredPod = {
        id: newId(), name: body.name, status: "RUNNING", image: body.image, args: body.args ?? "", disk: body.disk ?? 50,
        mounts: body.mounts ?? {}, ports: body.ports ?? [], env: body.env ?? {}, registry: body.registry ?? null,
        cloud: body.cloud ?? "SECURE", dataCenterId,
        ...(body.cpu ? { cpu: { ...body.cpu, memory: body.cpu.vcpuCount * (cpuFlavors.get(body.cpu.id)?.ramGbPerVcpu ?? 4) } } : {}),
        ...(body.gpu ? { gpu: { id: body.gpu.id, count: body.gpu.count ?? 1 } } : {}),
        locked: false, createdAt: now, startedAt: now,
      };
      const broken = podRules(pod);
      if (broken !== undefined) return problem(reply, 400, broken);
      state.pods.set(pod.id, pod);
      billPodRunning(pod);
      return reply.code(201).send(podView(pod));
    });
    api.get<{ Params: Params }>("/v2/pods/:id", async (request, reply) => {
      const pod = state.pods.get(request.params.id);
      return pod ? podView(pod) : problem(reply, 404, `pod ${request.params.id} not found`);
    });
    api.patch<{ Params: Params }>("/v2/pods/:id", async (request, reply) => {
      const pod = state.pods.get(request.params.id);
      if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
      if (!valid(reply, "UpdatePodRequest", request.body)) return reply;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const body = request.body as any;
      if (pod.locked && body.locked !== false) return problem(reply, 409, `pod ${pod.id} is locked`);
      if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated");
      const next: StoredPod = { ...pod, ...body };
      const broken = podRules(next);
      if (broken !== undefined) return problem(reply, 400, broken);
      // A changed container config restarts the pod, as on RunPod.
      const restarts = ["image", "env", "ports", "disk", "args", "mounts"].some((k) => k in body);
      if (restarts && next.status === "RUNNING") next.startedAt = new Date().toISOString();
      state.pods.set(next.id, next);
      // A new size (vCPUs, container disk) bills from now on.
      if (next.cpu?.vcpuCount !== pod.cpu?.vcpuCount || next.cpu?.id !== pod.cpu?.id || next.disk !== pod.disk) billPodRunning(next);
      return podView(next);
    });
    api.delete<{ Params: Params }>("/v2/pods/:id", async (request, reply) => {
      const pod = state.pods.get(request.params.id);
      if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
      if (pod.locked) return problem(reply, 409, `pod ${pod.id} is locked`);
      state.pods.delete(pod.id);
      billPodStopped(pod.id);
      return reply.code(204).send();
    });
    api.post<{ Params: Params }>("/v2/pods/:id/action", async (request, reply) => {
      const pod = state.pods.get(request.params.id);
      if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
      if (!valid(reply, "PodActionRequest", request.body)) return reply;
      const { action } = request.body as { action: string };
      if (!actionsOf(pod).includes(action)) return problem(reply, 409, `pod ${pod.id} is ${pod.status}; allowed actions: ${actionsOf(pod).join(", ")}`);
      if (action === "terminate") {
        state.pods.delete(pod.id);
        billPodStopped(pod.id);
        return reply.code(204).send();
      }
      const wasRunning = pod.status === "RUNNING";
      pod.status = action === "stop" ? "EXITED" : "RUNNING";
      if (action !== "stop") pod.startedAt = new Date().toISOString();
      // stop ends the billed stretch; start opens a new one; restart keeps the pod running (and billed).
      if (action === "stop") billPodStopped(pod.id);
      else if (!wasRunning) billPodRunning(pod);
      return podView(pod);
    });

    // ---- catalog ----
    api.get("/v2/catalog/gpus", async () => ({ gpus: CATALOG_GPUS }));
    api.get("/v2/catalog/cpus", async () => ({ cpus: CATALOG_CPUS }));
    api.get("/v2/catalog/datacenters", async () => ({ dataCenters: CATALOG_DATACENTERS }));
    api.get<{ Params: Params }>("/v2/catalog/gpus/:id", async (request, reply) =>
      CATALOG_GPUS.find((g) => g.id === request.params.id) ?? problem(reply, 404, `gpu ${request.params.id} not found`));
    api.get<{ Params: Params }>("/v2/catalog/cpus/:id", async (request, reply) =>
      CATALOG_CPUS.find((c) => c.id === request.params.id) ?? problem(reply, 404, `cpu ${request.params.id} not found`));
    api.get<{ Params: Params }>("/v2/catalog/datacenters/:id", async (request, reply) =>
      CATALOG_DATACENTERS.find((d) => d.id === request.params.id) ?? problem(reply, 404, `data center ${request.params.id} not found`));
  });
}
// The decoration and the fault hooks must reach the whole app (what fastify-plugin does).
(restV2Plugin as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;

export { restV2Plugin };
