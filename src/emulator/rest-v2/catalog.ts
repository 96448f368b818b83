// /v2/catalog/{gpus,cpus,datacenters}[/{id}]: the emulator's catalog (catalog-data.ts), with its prices.
// Query parameters were checked against the spec before a handler runs; the data-center filters apply
// (a data center matches when it has any of the listed values), the availability filters are accepted as is.
import type { FastifyPluginAsync } from "fastify";
import { CATALOG_CPUS, CATALOG_DATACENTERS, CATALOG_GPUS, type CatalogDataCenter } from "../catalog-data";
import { problem, type ById, type RestV2Context } from "./context";

interface DataCenterQuery {
  /** GPU_AVAILABILITY, CPU_AVAILABILITY: as on RunPod, the availability lists come only when asked for. */
  include?: string[];
  regions?: string[];
  networkVolumeTypes?: string[];
  compliance?: string[];
  globalNetwork?: boolean;
}

/** No list, or an empty one, filters nothing. */
const anyOf = (wanted: string[] | undefined, has: readonly string[]): boolean =>
  wanted === undefined || wanted.length === 0 || wanted.some((w) => has.includes(w));

const matches = (dc: CatalogDataCenter, q: DataCenterQuery): boolean =>
  anyOf(q.regions, [dc.region]) &&
  anyOf(q.networkVolumeTypes, dc.networkVolumeTypes) &&
  anyOf(q.compliance, dc.compliance) &&
  (q.globalNetwork === undefined || q.globalNetwork === dc.globalNetwork);

function withIncluded(dc: CatalogDataCenter, include: string[] | undefined): Partial<CatalogDataCenter> {
  const { gpuAvailability, cpuAvailability, ...rest } = dc;
  return {
    ...rest,
    ...(include?.includes("GPU_AVAILABILITY") ? { gpuAvailability } : {}),
    ...(include?.includes("CPU_AVAILABILITY") ? { cpuAvailability } : {}),
  };
}

export const catalogPlugin: FastifyPluginAsync<RestV2Context> = async (api) => {
  api.get("/v2/catalog/gpus", async () => ({ gpus: CATALOG_GPUS }));
  api.get("/v2/catalog/cpus", async () => ({ cpus: CATALOG_CPUS }));
  api.get<{ Querystring: DataCenterQuery }>("/v2/catalog/datacenters", async (request) =>
    ({ dataCenters: CATALOG_DATACENTERS.filter((dc) => matches(dc, request.query)).map((dc) => withIncluded(dc, request.query.include)) }));
  api.get<ById>("/v2/catalog/gpus/:id", async (request, reply) =>
    CATALOG_GPUS.find((g) => g.id === request.params.id) ?? problem(reply, 404, `gpu ${request.params.id} not found`));
  api.get<ById>("/v2/catalog/cpus/:id", async (request, reply) =>
    CATALOG_CPUS.find((c) => c.id === request.params.id) ?? problem(reply, 404, `cpu ${request.params.id} not found`));
  api.get<ById & { Querystring: DataCenterQuery }>("/v2/catalog/datacenters/:id", async (request, reply) => {
    const dc = CATALOG_DATACENTERS.find((d) => d.id === request.params.id);
    return dc ? withIncluded(dc, request.query.include) : problem(reply, 404, `data center ${request.params.id} not found`);
  });
};
