// /v2/network-volumes: create (in a catalog data center, of a type it offers), list, get, grow (never
// shrink), delete. Each volume bills from creation to deletion at its current size.
import type { FastifyPluginAsync } from "fastify";
import { CATALOG_DATACENTERS } from "../catalog-data";
import { newId, type StoredVolume } from "../rest-state";
import { problem, type ById, type RestV2Context } from "./context";

interface CreateVolumeBody { name: string; size: number; dataCenter: string; type?: StoredVolume["type"] }
interface UpdateVolumeBody { name?: string; size?: number }

export const networkVolumesPlugin: FastifyPluginAsync<RestV2Context> = async (api, { state, billing, validBody }) => {
  api.get("/v2/network-volumes", async () => ({ networkVolumes: [...state.volumes.values()] }));

  api.post<{ Body: CreateVolumeBody }>("/v2/network-volumes", async (request, reply) => {
    if (!validBody(reply, "CreateNetworkVolumeRequest", request.body)) return reply;
    const body = request.body;
    const dc = CATALOG_DATACENTERS.find((d) => d.id === body.dataCenter);
    if (dc === undefined) {
      return problem(reply, 400, `dataCenter ${body.dataCenter} does not exist; known: ${CATALOG_DATACENTERS.map((d) => d.id).join(", ")}`);
    }
    const type = body.type ?? dc.networkVolumeTypes[0] ?? "STANDARD";
    if (!dc.networkVolumeTypes.includes(type)) return problem(reply, 400, `dataCenter ${dc.id} offers no ${type} volumes`);
    const volume: StoredVolume = { id: newId(), name: body.name, size: body.size, dataCenter: dc.id, type };
    state.volumes.set(volume.id, volume);
    billing.trackVolume({ networkVolumeId: volume.id, sizeGb: volume.size, type: volume.type, createdAt: billing.now() });
    return reply.code(201).send(volume);
  });

  api.get<ById>("/v2/network-volumes/:id", async (request, reply) =>
    state.volumes.get(request.params.id) ?? problem(reply, 404, `network volume ${request.params.id} not found`));

  api.patch<ById & { Body: UpdateVolumeBody }>("/v2/network-volumes/:id", async (request, reply) => {
    const volume = state.volumes.get(request.params.id);
    if (volume === undefined) return problem(reply, 404, `network volume ${request.params.id} not found`);
    if (!validBody(reply, "UpdateNetworkVolumeRequest", request.body)) return reply;
    const { name, size } = request.body;
    if (size !== undefined && size < volume.size) {
      return problem(reply, 400, `size ${size} is smaller than the current ${volume.size} GB; network volume storage cannot be reduced`);
    }
    const grown = size !== undefined && size !== volume.size;
    if (name !== undefined) volume.name = name;
    if (size !== undefined) volume.size = size;
    if (grown) billing.resizeVolume(volume.id, volume.size);
    return volume;
  });

  api.delete<ById>("/v2/network-volumes/:id", async (request, reply) => {
    const id = request.params.id;
    if (!state.volumes.delete(id)) return problem(reply, 404, `network volume ${id} not found`);
    billing.deleteVolume(id);
    return reply.code(204).send();
  });
};
