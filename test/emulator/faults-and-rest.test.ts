// The emulator's test controls and REST v2 basics over HTTP: faults reach every route (the job API
// included), rules run out, bad rules are refused, and REST v2 answers 401/404/422 like RunPod.
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { startRestEmulator, type RestEmulator } from "../runpod/fixture";

let emu: RestEmulator;
beforeAll(async () => {
  emu = await startRestEmulator();
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await emu.call("DELETE", "/_emulator/faults", undefined, null);
});

it("injects a 429 with Retry-After on a job API route too, for the given number of times", async () => {
  const endpoint = await emu.client().endpoints.create({
    name: "e", type: "QUEUE", image: "w", gpu: { pools: ["ADA_24"] }, workers: { min: 0, max: 1, idleTimeout: 5 },
    scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
  });
  await emu.fault({ method: "GET", pathPattern: `^/v2/${endpoint.id}/health$`, status: 429, retryAfterS: 7, times: 1 });
  const limited = await emu.call("GET", `/v2/${endpoint.id}/health`);
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toBe("7");
  expect(limited.body).toMatchObject({ title: "Too Many Requests", status: 429 });
  // The job API knows the endpoint through the REST state's accessor.
  expect((await emu.call("GET", `/v2/${endpoint.id}/health`)).status).toBe(200);
  expect((await emu.call("GET", "/_emulator/faults", undefined, null)).body.faults[0]).toMatchObject({ remaining: 0 });
});

it("refuses a fault rule that would do nothing or has a bad pattern", async () => {
  const nothing = await emu.call("POST", "/_emulator/faults", { pathPattern: "^/v2/pods$" }, null);
  expect(nothing.status).toBe(422);
  expect(nothing.body.errors).toEqual(["$: a fault needs a status, a delayMs, or both"]);
  const badPattern = await emu.call("POST", "/_emulator/faults", { pathPattern: "(", status: 500 }, null);
  expect(badPattern.body.errors).toEqual(["$.pathPattern: must be a valid regular expression"]);
});

it("answers 401 for a missing or wrong key, 404 for an unknown id, 422 for a bad body", async () => {
  expect((await emu.call("GET", "/v2/network-volumes", undefined, null)).body).toEqual({ title: "Unauthorized", status: 401, detail: "missing bearer token" });
  expect((await emu.call("GET", "/v2/network-volumes", undefined, "nope")).status).toBe(401);
  expect((await emu.call("DELETE", "/v2/serverless/missing")).status).toBe(404);
  const bad = await emu.call("POST", "/v2/pods/x/action", { action: "explode" });
  expect(bad.status).toBe(404);
  const pod = await emu.client().pods.create({ name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 } });
  const badAction = await emu.call("POST", `/v2/pods/${pod.id}/action`, { action: "explode" });
  expect(badAction.status).toBe(422);
  expect(badAction.body.errors).toEqual(["$.action: must be equal to one of the allowed values (start, stop, restart, terminate)"]);
  const state = await emu.call("GET", "/_emulator/state", undefined, null);
  expect(state.body.pods.map((p: { id: string }) => p.id)).toContain(pod.id);
});

it("refuses a pod whose network volume is in another data center", async () => {
  const volume = await emu.client().networkVolumes.create({ name: "v", size: 10, dataCenter: "US-KS-2" });
  const answer = await emu.call("POST", "/v2/pods", {
    name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 }, dataCenterIds: ["EU-RO-1"],
    mounts: { network: [{ volumeId: volume.id, path: "/runpod-volume" }] },
  });
  expect(answer.status).toBe(400);
  expect(answer.body.detail).toBe(`network volume ${volume.id} is in US-KS-2, the pod in EU-RO-1`);
});
