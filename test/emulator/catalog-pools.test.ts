// Every serverless GPU pool the stack config accepts (RunPod's console's list) exists in the emulator's catalog
// and is accepted for an endpoint by its REST v2, so a valid pool is never refused locally.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";
import { GPU_POOLS } from "../../src/infra/config";

let app: FastifyInstance;
let origin: string;
const KEY = "catalog-key";
beforeAll(async () => {
  app = await buildEmulator({ apiKey: KEY });
  origin = await app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => app?.close());

describe("GPU pools", () => {
  it("the catalog lists every pool of GPU_POOLS, and an endpoint in each is created", async () => {
    const gpus = (await (await fetch(`${origin}/v2/catalog/gpus`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as unknown;
    const pools = new Set(JSON.stringify(gpus).match(/"pool":"([A-Z0-9_]+)"/g)?.map((m) => m.slice(8, -1)));
    expect([...GPU_POOLS].filter((p) => !pools.has(p))).toEqual([]);
    for (const pool of GPU_POOLS) {
      const res = await fetch(`${origin}/v2/serverless`, {
        method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `e-${pool}`, type: "QUEUE", image: "x:1", gpu: { pools: [pool] }, workers: { min: 0, max: 1, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 }, timeout: 600_000 }),
      });
      expect(res.status, `${pool}: ${await res.clone().text()}`).toBe(201);
    }
  });
});
