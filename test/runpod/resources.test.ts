// The dynamic providers' methods against the local RunPod: check, diff (replace vs update), create,
// read (drift, outside delete), update, delete. The provider reads RUNPOD_API_URL/KEY from env.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { networkVolumeProvider, type NetworkVolumeInputs, type NetworkVolumeOutputs } from "../../src/runpod/resources/network-volume";
import { podProvider, type PodInputs, type PodOutputs } from "../../src/runpod/resources/pod";
import {
  serverlessEndpointProvider,
  type ServerlessEndpointInputs,
  type ServerlessEndpointOutputs,
} from "../../src/runpod/resources/serverless-endpoint";
import { UNKNOWN } from "../../src/runpod/resources/provider-factory";
import { API_KEY, startRestEmulator, type RestEmulator } from "./fixture";

let emu: RestEmulator;
beforeAll(async () => {
  emu = await startRestEmulator();
  process.env.RUNPOD_API_URL = emu.origin;
  process.env.RUNPOD_API_KEY = API_KEY;
});
afterAll(async () => {
  delete process.env.RUNPOD_API_URL;
  delete process.env.RUNPOD_API_KEY;
  await emu.close();
});

async function checked<T>(provider: { check?: (o: T, n: T) => Promise<{ inputs?: T; failures?: { property: string; reason: string }[] }> }, news: unknown) {
  const result = await provider.check!({} as T, news as T);
  expect(result.failures ?? []).toEqual([]);
  return result.inputs as T;
}

describe("NetworkVolume", () => {
  it("check names the input, the value and what is allowed", async () => {
    const result = await networkVolumeProvider.check!({} as never, { name: "v", size: 5000, dataCenter: "EU-RO-1", type: "FAST" } as never);
    expect(result.failures).toEqual([
      { property: "size", reason: "NetworkVolume input size: got 5000; allowed: an integer number of GB from 10 to 4096" },
      { property: "type", reason: 'NetworkVolume input type: got "FAST"; allowed: STANDARD or HIGH_PERFORMANCE' },
    ]);
  });

  it("check lets values unknown at preview through", async () => {
    const result = await networkVolumeProvider.check!({} as never, { name: UNKNOWN, size: 20, dataCenter: "EU-RO-1" } as never);
    expect(result.failures).toEqual([]);
  });

  it("create, read, update in place, drift, outside delete, delete", async () => {
    const inputs = await checked<NetworkVolumeInputs>(networkVolumeProvider, { name: "data", size: 20, dataCenter: "EU-RO-1" });
    const { id, outs: created } = await networkVolumeProvider.create!(inputs);
    const outs = created!;
    expect(outs).toEqual({ name: "data", size: 20, dataCenter: "EU-RO-1", type: "STANDARD" });

    // Grow and rename: an update, not a replace.
    const grown = { ...inputs, size: 40, name: "data2" };
    expect(await networkVolumeProvider.diff!(id, outs, grown)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const updated = (await networkVolumeProvider.update!(id, outs, grown)).outs as NetworkVolumeOutputs;
    expect(updated.size).toBe(40);
    expect(await networkVolumeProvider.diff!(id, updated, grown)).toMatchObject({ changes: false });

    // Changed outside Pulumi: read finds it, the next diff shows it.
    await emu.call("PATCH", `/v2/network-volumes/${id}`, { name: "renamed-by-hand" });
    const refreshed = await networkVolumeProvider.read!(id, updated);
    expect(refreshed).toMatchObject({ id, props: { name: "renamed-by-hand" } });
    expect(await networkVolumeProvider.diff!(id, refreshed.props as NetworkVolumeOutputs, grown)).toMatchObject({ changes: true, replaces: [] });

    // Deleted outside Pulumi: read reports it gone, delete counts the 404 as done.
    await emu.call("DELETE", `/v2/network-volumes/${id}`);
    expect((await networkVolumeProvider.read!(id, updated)).id).toBe("");
    await expect(networkVolumeProvider.delete!(id, updated)).resolves.toBeUndefined();
  });

  it("replaces on a new data center or tier; a shrink is an error", async () => {
    const olds: NetworkVolumeOutputs = { name: "v", size: 50, dataCenter: "EU-RO-1", type: "STANDARD" };
    expect((await networkVolumeProvider.diff!("x", olds, { ...olds, dataCenter: "US-KS-2" })).replaces).toEqual(["dataCenter"]);
    expect((await networkVolumeProvider.diff!("x", olds, { ...olds, type: "HIGH_PERFORMANCE" })).replaces).toEqual(["type"]);
    // No type given: the data center's default tier, whatever it is, is not a change.
    const { type: _type, ...noType } = olds;
    expect(await networkVolumeProvider.diff!("x", olds, noType as NetworkVolumeInputs)).toMatchObject({ changes: false });
    await expect(networkVolumeProvider.diff!("x", olds, { ...olds, size: 20 })).rejects.toThrow(
      "NetworkVolume input size: got 20; allowed: 50 GB or more",
    );
  });

  it("shows the API's 422 text when a create is refused", async () => {
    await expect(networkVolumeProvider.create!({ name: "v", size: 20, dataCenter: "" })).rejects.toThrow(
      "RunPod API POST /v2/network-volumes failed (422 Unprocessable Entity): Request validation failed.\n  - $.dataCenter: must NOT have fewer than 1 characters",
    );
  });

  it("waits out a 429 during create", async () => {
    await emu.fault({ method: "POST", pathPattern: "^/v2/network-volumes$", status: 429, retryAfterS: 0, times: 2 });
    const { id } = await networkVolumeProvider.create!({ name: "rl", size: 10, dataCenter: "EU-RO-1" });
    expect((await emu.call("GET", `/v2/network-volumes/${id}`)).status).toBe(200);
  });
});

describe("ServerlessEndpoint", () => {
  const base = {
    name: "llm", image: "worker:1", env: { ENGINE: "echo" }, gpuPools: ["ADA_24"], workersMin: 0, workersMax: 2,
    idleTimeout: 5, queueDelay: 4, flashboot: "FLASHBOOT", executionTimeoutMs: 120_000, dataCenterIds: ["EU-RO-1"],
  };

  it("creates, updates every scaling field whole, finds drift, replaces only on a compute family change", async () => {
    const volume = await networkVolumeProvider.create!({ name: "v", size: 10, dataCenter: "EU-RO-1" });
    const inputs = await checked<ServerlessEndpointInputs>(serverlessEndpointProvider, { ...base, networkVolumeId: volume.id });
    const { id, outs: created } = await serverlessEndpointProvider.create!(inputs);
    const outs = created!;
    expect(outs.requestUrls.run).toBe(`${emu.origin}/v2/${id}/run`);
    expect(await serverlessEndpointProvider.diff!(id, outs, inputs)).toMatchObject({ changes: false });
    expect(emu.app.runpodRest.getEndpointConfig(id)).toMatchObject({ workersMax: 2, idleTimeout: 5, executionTimeoutMs: 120_000, networkVolumes: [volume.id] });

    await emu.call("DELETE", "/_emulator/requests");
    const bigger = { ...inputs, workersMax: 4 };
    expect(await serverlessEndpointProvider.diff!(id, outs, bigger)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await serverlessEndpointProvider.update!(id, outs, bigger)).outs as ServerlessEndpointOutputs;
    expect(updated.workersMax).toBe(4);
    const patch = (await emu.requests()).find((r) => r.method === "PATCH");
    expect(patch?.body).toEqual({ workers: { min: 0, max: 4, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 } });

    await emu.call("PATCH", `/v2/serverless/${id}`, { workers: { idleTimeout: 10 } });
    const refreshed = await serverlessEndpointProvider.read!(id, updated);
    expect((refreshed.props as ServerlessEndpointOutputs).idleTimeout).toBe(10);
    expect((await serverlessEndpointProvider.diff!(id, refreshed.props as ServerlessEndpointOutputs, bigger)).changes).toBe(true);

    const { gpuPools: _pools, gpuCount: _count, ...noGpu } = bigger;
    const cpuInputs = { ...noGpu, cpu: [{ flavor: "cpu3c", vcpuCount: 2 }] };
    expect((await serverlessEndpointProvider.diff!(id, updated, cpuInputs)).replaces).toEqual(["gpuPools", "cpu"]);
    expect((await serverlessEndpointProvider.diff!(id, updated, { ...bigger, gpuPools: ["AMPERE_80"] })).replaces).toEqual([]);

    await serverlessEndpointProvider.delete!(id, updated);
    expect((await serverlessEndpointProvider.read!(id, updated)).id).toBe("");
    await expect(serverlessEndpointProvider.delete!(id, updated)).resolves.toBeUndefined();
  });

  it("carries minCudaVersion: created with it, the emulator's answer holds it, a change is a PATCH (not a replace), drift and removal", async () => {
    const inputs = await checked<ServerlessEndpointInputs>(serverlessEndpointProvider, { ...base, minCudaVersion: "13.0" });
    await emu.call("DELETE", "/_emulator/requests");
    const { id, outs: created } = await serverlessEndpointProvider.create!(inputs);
    const outs = created!;
    const post = (await emu.requests()).find((r) => r.method === "POST" && r.path === "/v2/serverless");
    expect((post?.body as any).gpu).toEqual({ pools: ["ADA_24"], count: 1, minCudaVersion: "13.0" });
    expect((await emu.call("GET", `/v2/serverless/${id}`)).body.gpu).toMatchObject({ pools: ["ADA_24"], minCudaVersion: "13.0" });
    expect(outs.minCudaVersion).toBe("13.0");
    expect(await serverlessEndpointProvider.diff!(id, outs, inputs)).toMatchObject({ changes: false });

    // The image moves to a CUDA 12.9 build: an update in place, the whole gpu block sent with the new version.
    const older = { ...inputs, minCudaVersion: "12.9" };
    expect(await serverlessEndpointProvider.diff!(id, outs, older)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    await emu.call("DELETE", "/_emulator/requests");
    const updated = (await serverlessEndpointProvider.update!(id, outs, older)).outs as ServerlessEndpointOutputs;
    const patch = (await emu.requests()).find((r) => r.method === "PATCH");
    expect((patch?.body as any).gpu).toEqual({ pools: ["ADA_24"], count: 1, minCudaVersion: "12.9" });
    expect(updated.minCudaVersion).toBe("12.9");
    expect((await emu.call("GET", `/v2/serverless/${id}`)).body.gpu.minCudaVersion).toBe("12.9");

    // Cleared by hand in RunPod's console: a refresh shows it, and the next up puts it back.
    await emu.call("PATCH", `/v2/serverless/${id}`, { gpu: { minCudaVersion: "" } });
    const refreshed = (await serverlessEndpointProvider.read!(id, updated)).props as ServerlessEndpointOutputs;
    expect(refreshed.minCudaVersion).toBeUndefined();
    expect(await serverlessEndpointProvider.diff!(id, refreshed, older)).toMatchObject({ changes: true, replaces: [] });
    const restored = (await serverlessEndpointProvider.update!(id, refreshed, older)).outs as ServerlessEndpointOutputs;
    expect(restored.minCudaVersion).toBe("12.9");

    // Dropped from the inputs: the PATCH clears it (an empty minCudaVersion, as the spec's update allows).
    const { minCudaVersion: _cuda, ...without } = older;
    const cleared = (await serverlessEndpointProvider.update!(id, restored, without)).outs as ServerlessEndpointOutputs;
    expect(cleared.minCudaVersion).toBeUndefined();
    expect((await emu.call("GET", `/v2/serverless/${id}`)).body.gpu.minCudaVersion).toBeNull();
    await serverlessEndpointProvider.delete!(id, cleared);
  });

  it("check and the emulator refuse a CUDA version that is not major.minor; a CPU endpoint takes none", async () => {
    const result = await serverlessEndpointProvider.check!({} as never, { ...base, minCudaVersion: "13" } as never);
    expect(result.failures?.map((f) => f.reason)).toEqual([
      'ServerlessEndpoint input minCudaVersion: got "13"; allowed: a CUDA version such as "13.0"',
    ]);
    const { gpuPools: _pools, ...cpuBase } = base;
    const cpu = await serverlessEndpointProvider.check!({} as never, { ...cpuBase, cpu: [{ flavor: "cpu3c", vcpuCount: 2 }], minCudaVersion: "13.0" } as never);
    expect(cpu.failures?.map((f) => f.reason)).toEqual([
      'ServerlessEndpoint input minCudaVersion: got "13.0"; allowed: only with gpuPools (a CPU endpoint has no CUDA)',
    ]);
    const refused = await emu.call("POST", "/v2/serverless", {
      name: "x", type: "QUEUE", image: "worker:1", gpu: { pools: ["ADA_24"], minCudaVersion: "13" },
      scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
    });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body.errors)).toContain("minCudaVersion");
  });

  it("check refuses both or neither compute family and a bad idle timeout", async () => {
    const result = await serverlessEndpointProvider.check!({} as never, { ...base, idleTimeout: 0 } as never);
    expect(result.failures?.map((f) => f.reason)).toEqual([
      "ServerlessEndpoint input idleTimeout: got 0; allowed: 1 to 3600 seconds",
    ]);
    const both = await serverlessEndpointProvider.check!({} as never, { ...base, cpu: [{ flavor: "cpu3c", vcpuCount: 2 }] } as never);
    expect(both.failures?.[0]?.reason).toContain("allowed: exactly one of gpuPools and cpu");
  });
});

describe("Pod", () => {
  const base = { name: "web", image: "web:1", env: { SESSION_SECRET: "s3cret" }, ports: ["4321/http"], cpuFlavor: "cpu3g", vcpuCount: 4, dataCenterIds: ["EU-RO-1"] };

  it("creates with the volume mounted, updates env in place, replaces on flavor or data center", async () => {
    const volume = await networkVolumeProvider.create!({ name: "v", size: 10, dataCenter: "EU-RO-1" });
    const inputs = await checked<PodInputs>(podProvider, { ...base, networkVolumeId: volume.id });
    const { id, outs: created } = await podProvider.create!(inputs);
    const outs = created!;
    expect(outs).toMatchObject({ volumeMountPath: "/runpod-volume", networkVolumeId: volume.id, dataCenterId: "EU-RO-1", status: "RUNNING" });
    expect(outs.httpUrls).toEqual({ "4321": `https://${id}-4321.proxy.runpod.net` });
    expect(await podProvider.diff!(id, outs, inputs)).toMatchObject({ changes: false });

    const newEnv = { ...inputs, env: { SESSION_SECRET: "rotated" } };
    expect(await podProvider.diff!(id, outs, newEnv)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await podProvider.update!(id, outs, newEnv)).outs as PodOutputs;
    expect(updated.env).toEqual({ SESSION_SECRET: "rotated" });
    expect((await podProvider.diff!(id, updated, { ...newEnv, cpuFlavor: "cpu5g" })).replaces).toEqual(["cpuFlavor"]);
    expect((await podProvider.diff!(id, updated, { ...newEnv, dataCenterIds: ["US-KS-2"] })).replaces).toEqual(["dataCenterIds"]);

    await emu.call("PATCH", `/v2/pods/${id}`, { image: "web:hand-edited" });
    expect(((await podProvider.read!(id, updated)).props as PodOutputs).image).toBe("web:hand-edited");
    await podProvider.delete!(id, updated);
    expect((await podProvider.read!(id, updated)).id).toBe("");
  });

  it("check rejects a one-vCPU pod and a bad port", async () => {
    const result = await podProvider.check!({} as never, { ...base, vcpuCount: 1, ports: ["http"] } as never);
    expect(result.failures?.map((f) => f.reason)).toEqual([
      'Pod input ports.0: got "http"; allowed: "PORT/http" or "PORT/tcp", e.g. "4321/http"',
      "Pod input vcpuCount: got 1; allowed: an integer ≥ 2",
    ]);
  });
});
