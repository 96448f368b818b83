// Preflight against the emulator's live catalog over loopback (REST v2 /v2/catalog/*): what each data center
// offers decides; every problem names the key, the value and what is available; an unreachable catalog is a skip
// that says why and never carries the key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEmulator } from "../../src/emulator/emulator";
import { checkAgainstCatalog, runPreflight } from "../../src/infra/preflight";
import type { FastifyInstance } from "fastify";

const API_KEY = "preflight-test-key-0123456789";
let app: FastifyInstance;
let baseURL: string;

beforeAll(async () => {
  app = await buildEmulator({ apiKey: API_KEY });
  baseURL = await app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => app?.close());

const ok = { dataCenter: "EU-RO-1", gpuPools: ["ADA_24" as const], webCpuFlavor: "cpu3g" as const };

describe("preflight against the live catalog", () => {
  it("passes the seed's choices in EU-RO-1 (which has the S3 API)", async () => {
    expect(await runPreflight(ok, { apiKey: API_KEY, baseURL })).toEqual({ checked: true, problems: [], warnings: [] });
  });

  it("a GPU pool without serverless capacity in the data center is named with what is there", async () => {
    const result = await runPreflight({ ...ok, dataCenter: "EU-SE-1", gpuPools: ["ADA_24", "AMPERE_16"], allowNoS3: true }, { apiKey: API_KEY, baseURL });
    expect(result.problems).toEqual([
      'metahuman:gpuPools = "ADA_24,AMPERE_16": AMPERE_16 offers no serverless capacity in EU-SE-1; available there: ADA_24, AMPERE_80',
    ]);
  });

  it("a CPU flavor the data center does not have is named with what it has", async () => {
    const result = await runPreflight({ ...ok, dataCenter: "US-TX-3", webCpuFlavor: "cpu5g", allowNoS3: true }, { apiKey: API_KEY, baseURL });
    expect(result.problems).toEqual(['metahuman:webCpuFlavor = "cpu5g": not offered in US-TX-3; available there: cpu3c, cpu3g']);
  });

  it("a data center without the S3 API fails naming the key, the value and every data center that has it", async () => {
    const result = await runPreflight({ ...ok, dataCenter: "US-TX-3" }, { apiKey: API_KEY, baseURL });
    expect(result.checked).toBe(true);
    expect(result.problems).toEqual([
      'metahuman:dataCenter = "US-TX-3": RunPod\'s S3 API for network volumes is not offered there, so `npm run volume` ' +
      "(push-model, push-data, backup, restore) cannot reach the volume; it is offered in EU-CZ-1, EU-RO-1, EUR-IS-1, EUR-NO-1, " +
      "US-CA-2, US-GA-2, US-IL-1, US-KS-2, US-MD-1, US-MO-1, US-MO-2, US-NC-1, US-NC-2. Choose one of those, or " +
      "`pulumi config set metahuman:allowNoS3 true` to deploy there anyway",
    ]);
    expect(result.warnings).toEqual([]);
  });

  it("metahuman:allowNoS3 = true turns that failure into a warning; it changes nothing where the S3 API is", async () => {
    const result = await runPreflight({ ...ok, dataCenter: "US-TX-3", allowNoS3: true }, { apiKey: API_KEY, baseURL });
    expect(result.problems).toEqual([]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/^metahuman:dataCenter = "US-TX-3": RunPod's S3 API .*\(deploying anyway: metahuman:allowNoS3 = true\)$/);
    expect(await runPreflight({ ...ok, allowNoS3: true }, { apiKey: API_KEY, baseURL })).toEqual({ checked: true, problems: [], warnings: [] });
  });

  it("the S3 check needs no catalog: offline or without a key, a data center without it still fails", async () => {
    const offline = await runPreflight({ ...ok, dataCenter: "US-TX-3" }, { apiKey: API_KEY, baseURL: "http://127.0.0.1:9", timeoutMs: 2000 });
    expect(offline.checked).toBe(false);
    expect(offline.skipped).toMatch(/could not be read/);
    expect(offline.problems).toEqual([expect.stringMatching(/^metahuman:dataCenter = "US-TX-3": RunPod's S3 API/)]);
    const keyless = await runPreflight({ ...ok, dataCenter: "US-TX-3" }, { apiKey: "" });
    expect(keyless).toMatchObject({ checked: false, skipped: "no RunPod API key", problems: [expect.stringContaining("allowNoS3")] });
  });

  it("a data center the catalog does not list is named with those it lists", () => {
    const { problems } = checkAgainstCatalog({ ...ok, dataCenter: "EU-XX-9" }, { gpus: [], cpus: [], dataCenters: [{ id: "EU-RO-1" }] });
    expect(problems).toEqual(['metahuman:dataCenter = "EU-XX-9": not a data center in RunPod\'s catalog; it has EU-RO-1']);
  });

  it("GPU availability by GPU type id (not pool) counts toward the type's pool; NONE does not", () => {
    const gpus = [{ id: "NVIDIA GeForce RTX 4090", name: "RTX 4090", pool: "ADA_24", memory: 24, price: { secure: 0.7, community: 0.4, serverless: 1.1 } }];
    const dc = (availability: string) => ({ id: "EU-RO-1", gpuAvailability: [{ id: "NVIDIA GeForce RTX 4090", availability }], cpuAvailability: [{ id: "cpu3g-2-8", availability: "HIGH" }] });
    expect(checkAgainstCatalog(ok, { gpus, cpus: [], dataCenters: [dc("LOW")] }).problems).toEqual([]);
    expect(checkAgainstCatalog(ok, { gpus, cpus: [], dataCenters: [dc("NONE")] }).problems[0]).toContain("ADA_24 offers no serverless capacity in EU-RO-1; available there: none");
  });

  it("asks for the availability lists RunPod sends only on request; without them it warns instead of failing", async () => {
    await fetch(`${baseURL}/_emulator/requests`, { method: "DELETE", headers: { authorization: `Bearer ${API_KEY}` } });
    await runPreflight(ok, { apiKey: API_KEY, baseURL });
    const { requests } = (await (await fetch(`${baseURL}/_emulator/requests`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { requests: { path: string }[] };
    expect(requests.map((r) => r.path)).toContain("/v2/catalog/datacenters");
    const plain = (await (await fetch(`${baseURL}/v2/catalog/datacenters`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as any;
    expect(plain.dataCenters[0].gpuAvailability).toBeUndefined();
    const { problems, warnings } = checkAgainstCatalog({ ...ok, gpuPools: ["HOPPER_141"] }, { gpus: [], cpus: [], dataCenters: [{ id: "EU-RO-1" }] });
    expect(problems).toEqual([]);
    expect(warnings).toEqual(["the catalog gave no GPU or CPU availability for EU-RO-1: gpuPools and webCpuFlavor were not checked"]);
  });

  it("offline (or a refused key) it is skipped, saying why, without the key", async () => {
    const refused = await runPreflight(ok, { apiKey: "wrong-key-should-not-leak", baseURL });
    expect(refused.checked).toBe(false);
    expect(refused.skipped).toContain(`the catalog at ${baseURL} could not be read`);
    expect(refused.skipped).not.toContain("wrong-key-should-not-leak");
    const offline = await runPreflight(ok, { apiKey: API_KEY, baseURL: "http://127.0.0.1:9", timeoutMs: 2000 });
    expect([offline.checked, offline.problems]).toEqual([false, []]);
    expect(offline.skipped).toMatch(/could not be read/);
    expect(await runPreflight(ok, { apiKey: "" })).toMatchObject({ checked: false, skipped: "no RunPod API key" });
  });
});
