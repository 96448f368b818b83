// /v2/pods: CPU and GPU pods (create, list, get, update, delete) and POST /v2/pods/{id}/action
// (start, stop, restart, terminate). A CPU pod bills while RUNNING at its flavor's catalog rate and
// container disk; each stop, start or resize is reported to the ledger.
import type { FastifyPluginAsync } from "fastify";
import { CATALOG_CPUS, CATALOG_DATACENTERS, CATALOG_GPUS } from "../catalog-data";
import { newId, type StoredPod } from "../rest-state";
import { parsePort, portsRule } from "./container-ports";
import { problem, type ById, type ContainerConfigBody, type RestV2Context } from "./context";

/** CreatePodRequest / UpdatePodRequest as the emulator reads them (the spec's schema has already accepted them). */
interface PodBody extends ContainerConfigBody {
  cloud?: StoredPod["cloud"];
  cpu?: { id: string; vcpuCount: number };
  gpu?: { id: string; count?: number };
  dataCenterIds?: string[];
  mounts?: StoredPod["mounts"];
  locked?: boolean;
}
type PodAction = "start" | "stop" | "restart" | "terminate";

const dataCenterIds = new Set(CATALOG_DATACENTERS.map((dc) => dc.id));
const cpuFlavors = new Map(CATALOG_CPUS.map((c) => [c.id, c]));
const gpuTypes = new Map(CATALOG_GPUS.map((g) => [g.id, g]));

const actionsOf = (pod: StoredPod): PodAction[] => (pod.status === "EXITED" ? ["start", "terminate"] : ["stop", "restart", "terminate"]);

function podView(pod: StoredPod) {
  const hourly = pod.cpu
    ? pod.cpu.vcpuCount * (cpuFlavors.get(pod.cpu.id)?.price.securePerVcpu ?? 0)
    : (pod.gpu?.count ?? 0) * (gpuTypes.get(pod.gpu?.id ?? "")?.price[pod.cloud === "COMMUNITY" ? "community" : "secure"] ?? 0);
  return {
    ...pod,
    actions: actionsOf(pod),
    cudaVersion: null,
    ssh: { proxy: null, direct: null },
    template: null,
    cost: Math.round(hourly * 1000) / 1000,
    globalNetworking: { enabled: false },
    runtime: pod.status === "RUNNING"
      ? {
          uptime: Math.floor((Date.now() - Date.parse(pod.startedAt ?? pod.createdAt)) / 1000),
          ports: pod.ports.flatMap((p) => {
            const port = parsePort(p);
            return port ? [{ ...port, public: null, ip: null }] : [];
          }),
        }
      : null,
  };
}

export const podsPlugin: FastifyPluginAsync<RestV2Context> = async (api, { state, billing, validBody }) => {
  /** A RUNNING CPU pod bills from now at its current size (GPU pods are not priced by the ledger). */
  const billRunning = (pod: StoredPod): void => {
    if (pod.status !== "RUNNING" || pod.cpu === undefined) return;
    billing.trackPod({ podId: pod.id, vcpu: pod.cpu.vcpuCount, flavor: pod.cpu.id, containerDiskGb: pod.disk, startedAt: billing.now() });
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
    if (pod.gpu && !gpuTypes.has(pod.gpu.id)) return `gpu.id ${pod.gpu.id} does not exist; known: ${[...gpuTypes.keys()].join(", ")}`;
    const badPort = portsRule(pod.ports);
    if (badPort !== undefined) return badPort;
    for (const mount of pod.mounts.network ?? []) {
      const volume = state.volumes.get(mount.volumeId);
      if (volume === undefined) return `mounts.network: volume ${mount.volumeId} does not exist`;
      if (volume.dataCenter !== pod.dataCenterId) return `network volume ${mount.volumeId} is in ${volume.dataCenter}, the pod in ${pod.dataCenterId}`;
    }
    return undefined;
  }

  api.get("/v2/pods", async () => ({ pods: [...state.pods.values()].map(podView) }));

  api.post<{ Body: PodBody }>("/v2/pods", async (request, reply) => {
    if (!validBody(reply, "CreatePodRequest", request.body)) return reply;
    const body = request.body;
    if (body.templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated; send the container config");
    const requested = body.dataCenterIds ?? [];
    for (const id of requested) if (!dataCenterIds.has(id)) return problem(reply, 400, `dataCenterIds: ${id} does not exist`);
    // A pod with a network volume must run where the volume is.
    const volumeDc = state.volumes.get(body.mounts?.network?.[0]?.volumeId ?? "")?.dataCenter;
    const dataCenterId = volumeDc && (requested.length === 0 || requested.includes(volumeDc)) ? volumeDc : (requested[0] ?? "EU-RO-1");
    const now = new Date().toISOString();
    const pod: StoredPod = {
      id: newId(), name: body.name ?? "", status: "RUNNING", image: body.image ?? "", args: body.args ?? "", disk: body.disk ?? 50,
      mounts: body.mounts ?? {}, ports: body.ports ?? [], env: body.env ?? {}, registry: body.registry ?? null,
      cloud: body.cloud ?? "SECURE", dataCenterId,
      ...(body.cpu ? { cpu: { ...body.cpu, memory: body.cpu.vcpuCount * (cpuFlavors.get(body.cpu.id)?.ramGbPerVcpu ?? 4) } } : {}),
      ...(body.gpu ? { gpu: { id: body.gpu.id, count: body.gpu.count ?? 1 } } : {}),
      locked: false, createdAt: now, startedAt: now,
    };
    const broken = podRules(pod);
    if (broken !== undefined) return problem(reply, 400, broken);
    state.pods.set(pod.id, pod);
    billRunning(pod);
    return reply.code(201).send(podView(pod));
  });

  api.get<ById>("/v2/pods/:id", async (request, reply) => {
    const pod = state.pods.get(request.params.id);
    return pod ? podView(pod) : problem(reply, 404, `pod ${request.params.id} not found`);
  });

  api.patch<ById & { Body: PodBody }>("/v2/pods/:id", async (request, reply) => {
    const pod = state.pods.get(request.params.id);
    if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
    if (!validBody(reply, "UpdatePodRequest", request.body)) return reply;
    const { templateId, cpu, gpu, dataCenterIds: _ignored, ...rest } = request.body;
    if (pod.locked && rest.locked !== false) return problem(reply, 409, `pod ${pod.id} is locked`);
    if (templateId !== undefined) return problem(reply, 400, "templateId: templates are not emulated");
    const next: StoredPod = {
      ...pod,
      ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
      ...(cpu ? { cpu: { ...cpu, memory: cpu.vcpuCount * (cpuFlavors.get(cpu.id)?.ramGbPerVcpu ?? 4) } } : {}),
      ...(gpu ? { gpu: { id: gpu.id, count: gpu.count ?? 1 } } : {}),
    };
    const broken = podRules(next);
    if (broken !== undefined) return problem(reply, 400, broken);
    // A changed container config restarts the pod, as on RunPod.
    const restarts = ["image", "env", "ports", "disk", "args", "mounts"].some((k) => k in request.body);
    if (restarts && next.status === "RUNNING") next.startedAt = new Date().toISOString();
    state.pods.set(next.id, next);
    // A new size (vCPUs, container disk) bills from now on.
    if (next.cpu?.vcpuCount !== pod.cpu?.vcpuCount || next.cpu?.id !== pod.cpu?.id || next.disk !== pod.disk) billRunning(next);
    return podView(next);
  });

  api.delete<ById>("/v2/pods/:id", async (request, reply) => {
    const pod = state.pods.get(request.params.id);
    if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
    if (pod.locked) return problem(reply, 409, `pod ${pod.id} is locked`);
    state.pods.delete(pod.id);
    billing.stopPod(pod.id);
    return reply.code(204).send();
  });

  api.post<ById & { Body: { action: PodAction } }>("/v2/pods/:id/action", async (request, reply) => {
    const pod = state.pods.get(request.params.id);
    if (pod === undefined) return problem(reply, 404, `pod ${request.params.id} not found`);
    if (!validBody(reply, "PodActionRequest", request.body)) return reply;
    const { action } = request.body;
    if (!actionsOf(pod).includes(action)) return problem(reply, 409, `pod ${pod.id} is ${pod.status}; allowed actions: ${actionsOf(pod).join(", ")}`);
    if (action === "terminate") {
      state.pods.delete(pod.id);
      billing.stopPod(pod.id);
      return reply.code(204).send();
    }
    const wasRunning = pod.status === "RUNNING";
    pod.status = action === "stop" ? "EXITED" : "RUNNING";
    if (action !== "stop") pod.startedAt = new Date().toISOString();
    // stop ends the billed stretch; start opens a new one; restart keeps the pod running (and billed).
    if (action === "stop") billing.stopPod(pod.id);
    else if (!wasRunning) billRunning(pod);
    return podView(pod);
  });
};
