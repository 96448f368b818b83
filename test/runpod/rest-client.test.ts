// The REST v2 client against the local RunPod over HTTP: CRUD, errors, retries and their limits.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiCallError, MetaHumanError } from "../../src/common/errors";
import { RunPodApiError } from "../../src/runpod/errors";
import { createRunPodRestClient } from "../../src/runpod/rest";
import { API_KEY, startRestEmulator, type RestEmulator } from "./fixture";

let emu: RestEmulator;
beforeAll(async () => {
  emu = await startRestEmulator();
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await emu.call("DELETE", "/_emulator/faults", undefined, null);
  await emu.call("DELETE", "/_emulator/requests");
});

describe("network volumes", () => {
  it("creates, reads, grows, lists and deletes", async () => {
    const client = emu.client();
    const created = await client.networkVolumes.create({ name: "data", size: 20, dataCenter: "EU-RO-1" });
    expect(created).toMatchObject({ name: "data", size: 20, dataCenter: "EU-RO-1", type: "STANDARD" });
    expect(await client.networkVolumes.get(created.id)).toEqual(created);
    expect((await client.networkVolumes.update(created.id, { size: 30 })).size).toBe(30);
    await client.networkVolumes.delete(created.id);
    await expect(client.networkVolumes.get(created.id)).rejects.toMatchObject({ status: 404, isRetryable: false });
  });

  it("turns a 422 into one error naming each bad field", async () => {
    const error = await emu.client().networkVolumes.create({ name: "x", size: 5000, dataCenter: "EU-RO-1" }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(RunPodApiError.isInstance(error)).toBe(true);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect(MetaHumanError.isInstance(error)).toBe(true);
    expect(error.name).toBe("RunPodApiError");
    expect(error.stack).toMatch(/^RunPodApiError: RunPod API POST/);
    expect(error.status).toBe(422);
    expect(error.fieldErrors).toEqual(["$.size: must be <= 4096"]);
    expect(error.message).toBe(
      "RunPod API POST /v2/network-volumes failed (422 Unprocessable Entity): Request validation failed.\n  - $.size: must be <= 4096",
    );
  });

  it("refuses a shrink with the API's 400", async () => {
    const client = emu.client();
    const volume = await client.networkVolumes.create({ name: "d", size: 50, dataCenter: "EU-RO-1" });
    await expect(client.networkVolumes.update(volume.id, { size: 20 })).rejects.toMatchObject({ status: 400 });
  });
});

describe("auth", () => {
  it("fails with 401 on a wrong key and never puts the key in the message", async () => {
    const error = await emu.client({ apiKey: "wrong-key-123" }).catalog.gpus().catch((e) => e);
    expect(error.status).toBe(401);
    expect(error.message).not.toContain("wrong-key-123");
  });

  it("without any key, fails before sending anything, naming the variable", async () => {
    const before = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
    try {
      const error = await createRunPodRestClient({ baseURL: emu.origin }).catalog.gpus().catch((e) => e);
      expect(MetaHumanError.isInstance(error) && !ApiCallError.isInstance(error)).toBe(true);
      expect(error.message).toBe("RUNPOD_API_KEY is not set: pass `apiKey` or set the RUNPOD_API_KEY environment variable");
      expect(await emu.requests()).toEqual([]);
    } finally {
      if (before !== undefined) process.env.RUNPOD_API_KEY = before;
    }
  });

  it("an upstream that echoes the key in its problem body never gets it into the error", async () => {
    const key = "test-only-not-a-runpod-key-echoed-abcdefgh";
    const echo: typeof fetch = async (_url, init) =>
      new Response(JSON.stringify({ title: "Bad Request", detail: `you sent ${JSON.stringify(init?.headers)}`, errors: [`$.name: key ${key}`] }), {
        status: 400,
        headers: { "content-type": "application/problem+json" },
      });
    const error = await createRunPodRestClient({ baseURL: "http://127.0.0.1:9", apiKey: key, fetch: echo }).catalog.gpus().catch((e) => e);
    expect(RunPodApiError.isInstance(error)).toBe(true);
    expect(error.status).toBe(400);
    expect(`${error.message} ${error.detail} ${error.fieldErrors} ${error.responseBody} ${error.stack}`).not.toContain(key.slice(4));
    expect(error.message).toContain("Bearer [redacted]");
  });

  it("reads RUNPOD_API_KEY and RUNPOD_API_URL lazily, at request time", async () => {
    const before = { key: process.env.RUNPOD_API_KEY, url: process.env.RUNPOD_API_URL };
    const client = createRunPodRestClient({ retryBaseDelayMs: 1 });
    process.env.RUNPOD_API_KEY = API_KEY;
    process.env.RUNPOD_API_URL = emu.origin;
    try {
      expect((await client.catalog.cpus()).map((c) => c.id)).toContain("cpu3g");
    } finally {
      for (const [name, value] of [["RUNPOD_API_KEY", before.key], ["RUNPOD_API_URL", before.url]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe("retries", () => {
  it("waits out a 429 with Retry-After, then succeeds — even for a create", async () => {
    await emu.fault({ method: "POST", pathPattern: "^/v2/network-volumes$", status: 429, retryAfterS: 1, times: 1 });
    const volume = await emu.client().networkVolumes.create({ name: "rl", size: 10, dataCenter: "EU-RO-1" });
    expect(volume.name).toBe("rl");
    const posts = (await emu.requests()).filter((r) => r.method === "POST");
    expect(posts.map((r) => r.status)).toEqual([429, 201]);
  });

  it("gives up at once when Retry-After exceeds the bound", async () => {
    await emu.fault({ pathPattern: "^/v2/catalog/gpus$", status: 429, retryAfterS: 120, times: 1 });
    const error = await emu.client({ maxRetryAfterMs: 5_000 }).catalog.gpus().catch((e) => e);
    expect(error).toMatchObject({ status: 429, isRetryable: true, retryAfterMs: 120_000 });
    expect((await emu.requests()).length).toBe(1);
  });

  it("retries a GET after a 503", async () => {
    await emu.fault({ method: "GET", pathPattern: "^/v2/catalog/cpus$", status: 503, times: 2 });
    expect((await emu.client().catalog.cpus()).length).toBeGreaterThan(0);
    expect((await emu.requests()).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("never repeats a create after a 5xx (it may have happened)", async () => {
    await emu.fault({ method: "POST", pathPattern: "^/v2/pods$", status: 500, times: 1 });
    const error = await emu.client().pods.create({ name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 } }).catch((e) => e);
    expect(error).toMatchObject({ status: 500, isRetryable: true });
    expect((await emu.requests()).filter((r) => r.method === "POST").length).toBe(1);
  });

  it("stops after maxRetries", async () => {
    await emu.fault({ method: "GET", pathPattern: "^/v2/catalog/gpus$", status: 502, times: 10 });
    await expect(emu.client({ maxRetries: 2 }).catalog.gpus()).rejects.toMatchObject({ status: 502 });
    expect((await emu.requests()).length).toBe(3);
  });

  it("times out a slow answer as a retryable error without a status", async () => {
    await emu.fault({ pathPattern: "^/v2/catalog/gpus$", delayMs: 1500, times: 1 });
    const error = await emu.client({ timeoutMs: 200, maxRetries: 0 }).catalog.gpus().catch((e) => e);
    expect(error).toMatchObject({ status: undefined, title: "Timeout", timedOut: true, isRetryable: true });
    expect(error.message).toBe("RunPod API GET /v2/catalog/gpus failed (no response Timeout): no answer within 200 ms");
  });

  it("passes a caller's abort through untouched", async () => {
    const controller = new AbortController();
    controller.abort(new Error("user cancelled"));
    await expect(emu.client().catalog.gpus({ signal: controller.signal })).rejects.toThrow("user cancelled");
  });

});

describe("endpoints and pods", () => {
  it("creates an endpoint with every scaling field and reads its request URLs", async () => {
    const client = emu.client();
    const endpoint = await client.endpoints.create({
      name: "llm", type: "QUEUE", image: "worker:1", gpu: { pools: ["ADA_24"] },
      workers: { min: 0, max: 2, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
    });
    expect(endpoint.workers).toEqual({ min: 0, max: 2, idleTimeout: 5 });
    expect(endpoint.requestUrls?.run).toBe(`${emu.origin}/v2/${endpoint.id}/run`);
    expect(emu.app.runpodRest.getEndpointConfig(endpoint.id)).toMatchObject({ workersMax: 2, idleTimeout: 5, gpuPools: ["ADA_24"], executionTimeoutMs: 300_000 });
    await client.endpoints.delete(endpoint.id);
    expect(emu.app.runpodRest.getEndpointConfig(endpoint.id)).toBeUndefined();
  });
});
