// What a property-based run of RunPod's spec found against the emulator, each as a plain HTTP regression
// test: a billing window of any length costs no more work than what ran; a pod's runtime ports are the
// integers the spec says; query strings are checked against the spec's parameters; unknown routes answer
// problem+json.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRestEmulator, type RestEmulator } from "../runpod/fixture";

let emu: RestEmulator;
beforeAll(async () => {
  emu = await startRestEmulator();
});
afterAll(async () => emu.close());

it("GET /v2/billing/pods with a huge lastN answers at once, from the epoch, without freezing the event loop", async () => {
  await emu.client().pods.create({ name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 } });
  for (const bucketSize of ["hour", "day", "week", "month", "year"]) {
    const started = performance.now();
    const answer = await emu.call("GET", `/v2/billing/pods?lastN=18440174240051&bucketSize=${bucketSize}`);
    expect(performance.now() - started, bucketSize).toBeLessThan(500);
    expect(answer.status).toBe(200);
    expect(answer.body.metadata.query.startTime.slice(0, 4)).toMatch(/^19(69|70)$/); // a week starts on Monday
    expect(answer.body.records.length).toBeLessThanOrEqual(1); // the pod has run for less than a second
  }
  // A window of ten thousand years of hours: the loop follows what ran, not the window.
  const started = performance.now();
  const wide = await emu.call("GET", "/v2/billing/pods?bucketSize=hour&startTime=0001-01-01T00:00:00Z&endTime=9999-12-31T23:59:59Z");
  expect(performance.now() - started).toBeLessThan(500);
  expect(wide.status).toBe(200);
  expect(wide.body.metadata.query).toMatchObject({ startTime: "0001-01-01T00:00:00.000Z", bucketSize: "hour" });
});

it("POST /v2/pods: runtime.ports[].private is the port number; a port string that is not <port>/<protocol> is a 400", async () => {
  const pod = await emu.call("POST", "/v2/pods", { name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 }, ports: ["4321/http", "22/tcp"] });
  expect(pod.status).toBe(201);
  expect(pod.body.runtime.ports).toEqual([
    { private: 4321, type: "http", public: null, ip: null },
    { private: 22, type: "tcp", public: null, ip: null },
  ]);
  const bad = await emu.call("POST", "/v2/pods", { name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 }, ports: ["http"] });
  expect(bad.status).toBe(400);
  expect(bad.body.detail).toBe("ports: 'http' is not <port>/<protocol> with a port from 1 to 65535 and protocol http, tcp or udp");
});

it("catalog query parameters are checked against the spec: 400 naming the parameter; valid filters apply", async () => {
  const negative = await emu.call("GET", "/v2/catalog/cpus?vcpuCount=-7168");
  expect(negative.status).toBe(400);
  expect(negative.headers.get("content-type")).toContain("application/problem+json");
  expect(negative.body.errors).toEqual(["vcpuCount: must be >= 2"]);
  expect((await emu.call("GET", "/v2/catalog/cpus?vcpuCount=four")).body.errors).toEqual(["vcpuCount: must be integer"]);
  expect((await emu.call("GET", "/v2/catalog/gpus?cloud=MOON")).status).toBe(400);
  expect((await emu.call("GET", "/v2/catalog/gpus?bogus=1")).body.errors).toEqual(["bogus: not a query parameter of this operation"]);
  expect((await emu.call("GET", "/v2/pods?includeClusterPods=maybe")).status).toBe(400);
  expect((await emu.call("GET", "/v2/catalog/cpus?vcpuCount=4")).status).toBe(200);
  const europe = await emu.call("GET", "/v2/catalog/datacenters?regions=EUROPE");
  // An empty list value filters nothing, so it is refused by name rather than ignored (issue 17).
  expect((await emu.call("GET", "/v2/catalog/datacenters?regions=EUROPE&networkVolumeTypes=")).body.errors)
    .toEqual([expect.stringMatching(/^networkVolumeTypes: an empty value is not allowed; give one or more of /)]);
  expect(europe.body.dataCenters.map((dc: { id: string }) => dc.id)).toEqual(["EU-RO-1", "EU-SE-1"]);
  const fast = await emu.call("GET", "/v2/catalog/datacenters?networkVolumeTypes=HIGH_PERFORMANCE&globalNetwork=false");
  expect(fast.body.dataCenters.map((dc: { id: string }) => dc.id)).toEqual(["US-KS-2"]);
});

it("a route nobody serves answers problem+json 404; a REST v2 route checks the key first", async () => {
  const unknown = await emu.call("GET", "/nothing/here");
  expect(unknown.status).toBe(404);
  expect(unknown.headers.get("content-type")).toContain("application/problem+json");
  expect(unknown.body).toEqual({ title: "Not Found", status: 404, detail: "no route GET /nothing/here" });
  expect((await emu.call("GET", "/v2/templates", undefined, null)).status).toBe(401);
  expect((await emu.call("GET", "/v2/templates")).status).toBe(501);
});
