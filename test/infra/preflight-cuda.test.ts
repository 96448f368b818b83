// Preflight's CUDA check against the emulator's live catalog (GET /v2/catalog/gpus, each GPU type's cudaVersions):
// a pool whose GPUs offer the worker image's CUDA (or newer) passes; one that does not is named with the key, the value
// and the versions it offers; a catalog without cudaVersions is a warning; offline the whole preflight says it was skipped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEmulator } from "../../src/emulator/emulator";
import { checkAgainstCatalog, runPreflight } from "../../src/infra/preflight";
import { compareCudaVersions } from "../../src/infra/preflight-cuda";
import type { FastifyInstance } from "fastify";

const API_KEY = "preflight-cuda-test-key-0123456789";
let app: FastifyInstance;
let baseURL: string;

beforeAll(async () => {
  app = await buildEmulator({ apiKey: API_KEY });
  baseURL = await app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => app?.close());

const ok = { dataCenter: "EU-RO-1", gpuPools: ["ADA_24" as const], webCpuFlavor: "cpu3g" as const, workerCudaVersion: "13.0" as const };

describe("preflight: the worker image's CUDA", () => {
  it("the emulator's catalog gives each GPU type's cudaVersions, as the spec's GpuType has them", async () => {
    const answer = await fetch(`${baseURL}/v2/catalog/gpus`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const { gpus } = (await answer.json()) as { gpus: { pool: string; cudaVersions?: { version: string; available: boolean }[] }[] };
    const offered = (pool: string) => gpus.filter((g) => g.pool === pool).flatMap((g) => g.cudaVersions ?? []).filter((c) => c.available).map((c) => c.version);
    expect(offered("ADA_24")).toContain("13.0");
    expect(offered("AMPERE_16")).not.toContain("13.0");
  });

  it("passes where the pool's GPUs offer CUDA 13.0 (the default, vLLM 0.33's image)", async () => {
    expect(await runPreflight(ok, { apiKey: API_KEY, baseURL })).toMatchObject({ checked: true, problems: [] });
    expect((await runPreflight({ ...ok, gpuPools: ["ADA_24", "AMPERE_80"] }, { apiKey: API_KEY, baseURL })).problems).toEqual([]);
  });

  it("fails a pool whose GPUs do not offer it, naming the key, the value and what the pool offers", async () => {
    const result = await runPreflight({ ...ok, gpuPools: ["ADA_24", "AMPERE_16"] }, { apiKey: API_KEY, baseURL });
    expect(result.checked).toBe(true);
    expect(result.problems).toEqual([
      'metahuman:workerCudaVersion = "13.0": no GPU of AMPERE_16 offers CUDA 13.0 or newer (the worker image needs it); ' +
      "available in AMPERE_16: 12.4, 12.6, 12.8",
    ]);
  });

  it("passes that pool for an image built for an older CUDA (a -cu128 build)", async () => {
    const result = await runPreflight({ ...ok, gpuPools: ["AMPERE_16"], workerCudaVersion: "12.8" }, { apiKey: API_KEY, baseURL });
    expect(result.problems).toEqual([]);
  });

  it("a newer CUDA than asked for counts (12.10 is newer than 12.9); an unavailable one does not", () => {
    expect(compareCudaVersions("12.10", "12.9")).toBeGreaterThan(0);
    expect(compareCudaVersions("13.0", "12.9")).toBeGreaterThan(0);
    expect(compareCudaVersions("12.8", "12.8")).toBe(0);
    const gpus = [{
      id: "g", name: "g", pool: "ADA_24", memory: 24, price: { secure: 1, community: 1, serverless: 1 },
      cudaVersions: [{ version: "12.8", available: true }, { version: "13.1", available: false }],
    }];
    const dataCenters = [{ id: "EU-RO-1" }];
    expect(checkAgainstCatalog({ ...ok, workerCudaVersion: "12.6" }, { gpus, cpus: [], dataCenters }).problems).toEqual([]);
    expect(checkAgainstCatalog(ok, { gpus, cpus: [], dataCenters }).problems).toEqual([
      'metahuman:workerCudaVersion = "13.0": no GPU of ADA_24 offers CUDA 13.0 or newer (the worker image needs it); available in ADA_24: 12.8',
    ]);
  });

  it("a catalog that gives no cudaVersions is a warning that it was not checked, not a failure", () => {
    const gpus = [{ id: "g", name: "g", pool: "ADA_24", memory: 24, price: { secure: 1, community: 1, serverless: 1 } }];
    const { problems, warnings } = checkAgainstCatalog(ok, { gpus, cpus: [], dataCenters: [{ id: "EU-RO-1" }] });
    expect(problems).toEqual([]);
    expect(warnings).toContain('the catalog gave no CUDA versions for ADA_24: metahuman:workerCudaVersion = "13.0" was not checked there');
  });

  it("offline it is skipped, and says so: no CUDA problem is made up", async () => {
    const offline = await runPreflight({ ...ok, gpuPools: ["AMPERE_16"] }, { apiKey: API_KEY, baseURL: "http://127.0.0.1:9", timeoutMs: 2000 });
    expect(offline.checked).toBe(false);
    expect(offline.skipped).toMatch(/could not be read/);
    expect(offline.problems.filter((p) => p.includes("workerCudaVersion"))).toEqual([]);
  });
});
