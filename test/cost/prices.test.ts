// Price loading: the live catalog over real HTTP (spec-shaped GpuType/CpuType answers), and the dated table
// when there is no key or the catalog fails.
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { estimateCost, loadPrices, PRICE_TABLE, tablePrices } from "../../src/infra/cost";
import { parseStackConfig } from "../../src/infra/config";
import { buildEmulator } from "../../src/emulator/emulator";

const KEY = "test-key-123456";
let server: FastifyInstance;
let baseURL: string;
let catalogStatus = 200;

beforeAll(async () => {
  server = Fastify();
  server.addHook("onRequest", async (req, reply) => {
    if (req.headers.authorization !== `Bearer ${KEY}`) return reply.code(401).type("application/problem+json").send({ title: "Unauthorized", status: 401, detail: "bad key" });
    if (catalogStatus !== 200) return reply.code(catalogStatus).type("application/problem+json").send({ title: "Unavailable", status: catalogStatus, detail: "down" });
  });
  // The spec's example values, plus an A100 with a different serverless rate.
  server.get("/v2/catalog/gpus", async () => ({ gpus: [
    { id: "NVIDIA GeForce RTX 4090", name: "RTX 4090", pool: "ADA_24", manufacturer: "NVIDIA", memory: 24, secure: true, community: true, price: { secure: 0.44, community: 0.31, serverless: 1.1 }, maxCount: { secure: 8, community: 4 } },
    { id: "NVIDIA A100 80GB PCIe", name: "A100 80GB", pool: "AMPERE_80", manufacturer: "NVIDIA", memory: 80, secure: true, community: false, price: { secure: 1.64, community: 0, serverless: 2.736 }, maxCount: { secure: 8, community: 0 } },
    { id: "NVIDIA H100 NVL", name: "H100 NVL", pool: null, manufacturer: "NVIDIA", memory: 94, secure: true, community: false, price: { secure: 2.59, community: 0 }, maxCount: { secure: 8, community: 0 } },
  ] }));
  server.get("/v2/catalog/cpus", async () => ({ cpus: [
    { id: "cpu3c-2-4", name: "Compute-Optimized", group: "Gen 3", vcpu: { min: 2, max: 32 }, ramGbPerVcpu: 2.5, price: { securePerVcpu: 0.03, serverlessPerVcpu: 0.03 } },
    { id: "cpu3g", name: "General Purpose", group: "Gen 3", vcpu: { min: 2, max: 32 }, ramGbPerVcpu: 4, price: { securePerVcpu: 0.05, serverlessPerVcpu: 0.04 } },
  ] }));
  await server.listen({ host: "127.0.0.1", port: 0 });
  const address = server.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  baseURL = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => { await server.close(); });

describe("loadPrices", () => {
  it("reads the live catalog: per-hour serverless rates become per-second, CPU flavors from their ids", async () => {
    catalogStatus = 200;
    const prices = await loadPrices({ apiKey: KEY, baseURL, now: () => new Date("2026-11-27T10:00:00Z") });
    expect(prices.source).toBe("catalog");
    expect(prices.asOf).toBe("2026-11-27T10:00:00.000Z");
    expect(prices.serverlessGpuUsdPerSecond.ADA_24).toBeCloseTo(1.1 / 3600, 12);
    expect(prices.serverlessGpuUsdPerSecond.AMPERE_80).toBeCloseTo(0.00076, 12);
    expect(prices.cpuUsdPerVcpuHour).toMatchObject({ cpu3c: 0.03, cpu3g: 0.05 });
    // What the catalog lacks is filled from the table and said so.
    expect(prices.serverlessGpuUsdPerSecond.HOPPER_141).toBe(PRICE_TABLE.serverlessGpuUsdPerSecond.HOPPER_141);
    expect(prices.notes).toContain("Pool HOPPER_141 has no serverless price in the catalog: table rate used.");
    expect(prices.notes).toContain("CPU flavor cpu5g is not in the catalog: assumed table rate used.");
    expect(prices.volumeUsdPerGbMonth.standardFirstTb).toBe(0.07);
  });

  it("falls back to the dated table without a key", async () => {
    const prices = await loadPrices({ apiKey: "", baseURL });
    expect(prices).toMatchObject({ source: "table", asOf: "2026-05-13" });
    expect(prices.serverlessGpuUsdPerSecond.ADA_24).toBe(0.00031);
    expect(prices.cpuUsdPerVcpuHour.cpu3g).toBe(0.04);
    expect(prices.notes[1]).toBe("No RunPod API key: the live catalog was not read.");
  });

  it("falls back to the table when the catalog refuses the key or fails, saying why and never the key", async () => {
    const refused = await loadPrices({ apiKey: "wrong-key-999", baseURL });
    expect(refused.source).toBe("table");
    expect(refused.notes.join("\n")).toMatch(/could not be read.*401/);
    expect(JSON.stringify(refused)).not.toContain("wrong-key-999");
    catalogStatus = 503;
    const down = await loadPrices({ apiKey: KEY, baseURL });
    expect(down.source).toBe("table");
    expect(down.notes.join("\n")).toMatch(/503/);
    catalogStatus = 200;
  });
});

describe("loadPrices from the local RunPod's catalog", () => {
  it("reads the emulator's GET /v2/catalog/gpus and /cpus and estimates the seed's stack with them", async () => {
    const emulator = await buildEmulator({ apiKey: KEY });
    try {
      await emulator.listen({ host: "127.0.0.1", port: 0 });
      const address = emulator.server.address();
      if (!address || typeof address === "string") throw new Error("no port");
      const prices = await loadPrices({ apiKey: KEY, baseURL: `http://127.0.0.1:${address.port}` });
      expect(prices.source).toBe("catalog");
      // The emulator lists RTX 4090 at $1.224/h serverless (= $0.00034/s) and cpu3g at $0.045/vCPU-h: its own
      // prices, not the table's, so what the estimate used can be told from the fallback.
      expect(prices.serverlessGpuUsdPerSecond.ADA_24).toBeCloseTo(0.00034, 12);
      expect(prices.cpuUsdPerVcpuHour.cpu3g).toBe(0.045);
      expect(prices.serverlessGpuUsdPerSecond.ADA_24).not.toBe(PRICE_TABLE.serverlessGpuUsdPerSecond.ADA_24);
      expect(prices.cpuUsdPerVcpuHour.cpu3g).not.toBe(PRICE_TABLE.cpuUsdPerVcpuHour.cpu3g);
      const estimate = estimateCost(parseStackConfig({}), prices);
      expect(estimate.priceSource.source).toBe("catalog");
      // The seed's stack: 4 vCPU cpu3g (4 × 0.045 × 730 = 131.40) + 20 GB disk (2.00) + 50 GB volume (3.50).
      expect(estimate.baseMonthlyUsd).toBeCloseTo(136.9, 6);
      expect(estimateCost(parseStackConfig({}), tablePrices()).baseMonthlyUsd).toBeCloseTo(122.3, 6);
    } finally {
      await emulator.close();
    }
  });
});
