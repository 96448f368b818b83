// The REST v2 client against the local RunPod over HTTP: CRUD, errors, retries and their limits.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isRunPodApiError } from "../../src/runpod/errors";
import { createRunPodRestClient, parseRetryAfter } from "../../src/runpod/rest";
import { API_KEY, startRestEmulator, type RestEmulator } from "./fixture";

let emu: RestEmulator;
beforeAll(async () => {
  emu = await startRestEmulator();
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await emu.call("DELETE", "/_emulator/faults", undefined, null);
  await emu.call("DELETE", "/_emulator/requests", undefined, null);
});

describe("network volumes", () => {
  it("creates, reads, grows, lists and deletes", async () => {
    const client = emu.client();
    const created = await client.networkVolumes.create({ name: "data", size: 20, dataCenter: "EU-RO-1" });
    expect(created).toMatchObject({ name: "data", size: 20, dataCenter: "EU-RO-1", type: "STANDARD" });
    expect(await client.networkVolumes.get(created.id)).toEqual(created);
    expect((await client.networkVolumes.update(created.id, { size: 30 })).size).toBe(30);
    expect((await client.networkVolumes.list()).map((v) => v.id)).toContain(created.id);
    await client.networkVolumes.delete(created.id);
    await expect(client.networkVolumes.get(created.id)).rejects.toMatchObject({ status: 404, retryable: false });
  });

  it("turns a 422 into one error naming each bad field", async () => {
    const error = await emu.client().networkVolumes.create({ name: "x", size: 5000, dataCenter: "EU-RO-1" }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(isRunPodApiError(error)).toBe(true);
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
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 120_000 });
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
    expect(error).toMatchObject({ status: 500, retryable: true });
    expect((await emu.requests()).filter((r) => r.method === "POST").length).toBe(1);
  });

  it("stops after maxRetries", async () => {
    await emu.fault({ method: "GET", pathPattern: "^/v2/pods$", status: 502, times: 10 });
    await expect(emu.client({ maxRetries: 2 }).pods.list()).rejects.toMatchObject({ status: 502 });
    expect((await emu.requests()).length).toBe(3);
  });

  it("times out a slow answer as a retryable error with status 0", async () => {
    await emu.fault({ pathPattern: "^/v2/catalog/datacenters$", delayMs: 1500, times: 1 });
    const error = await emu.client({ timeoutMs: 200, maxRetries: 0 }).catalog.datacenters().catch((e) => e);
    expect(error).toMatchObject({ status: 0, title: "Timeout", retryable: true });
  });

  it("passes a caller's abort through untouched", async () => {
    const controller = new AbortController();
    controller.abort(new Error("user cancelled"));
    await expect(emu.client().catalog.gpus({ signal: controller.signal })).rejects.toThrow("user cancelled");
  });

  it("parses Retry-After seconds and HTTP dates", () => {
    expect(parseRetryAfter("12")).toBe(12_000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});

describe("endpoints and pods", () => {
  it("creates an endpoint with every scaling field and reads its workers and request URLs", async () => {
    const client = emu.client();
    const endpoint = await client.endpoints.create({
      name: "llm", type: "QUEUE", image: "worker:1", gpu: { pools: ["ADA_24"] },
      workers: { min: 0, max: 2, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
    });
    expect(endpoint.workers).toEqual({ min: 0, max: 2, idleTimeout: 5 });
    expect(endpoint.requestUrls?.run).toBe(`${emu.origin}/v2/${endpoint.id}/run`);
    expect(emu.app.runpodRest.getEndpointConfig(endpoint.id)).toMatchObject({ workersMax: 2, idleTimeout: 5, gpuPools: ["ADA_24"], executionTimeoutMs: 300_000 });
    expect((await client.endpoints.workers(endpoint.id)).summary.total).toBe(0);
    await client.endpoints.delete(endpoint.id);
    expect(emu.app.runpodRest.getEndpointConfig(endpoint.id)).toBeUndefined();
  });

  it("stops and starts a pod", async () => {
    const client = emu.client();
    const pod = await client.pods.create({ name: "web", image: "web:1", ports: ["4321/http"], cpu: { id: "cpu3g", vcpuCount: 4 } });
    expect(pod.status).toBe("RUNNING");
    await client.pods.action(pod.id, "stop");
    expect((await client.pods.get(pod.id)).status).toBe("EXITED");
    await client.pods.action(pod.id, "start");
    expect((await client.pods.get(pod.id)).status).toBe("RUNNING");
  });
});
