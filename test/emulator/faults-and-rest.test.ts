// The emulator's test controls and REST v2 basics over HTTP: faults reach every route (the job API
// included), rules run out, bad rules are refused, and REST v2 answers 401/404/422 like RunPod.
import { request } from "node:http";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { API_KEY, startRestEmulator, type RestEmulator } from "../runpod/fixture";

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
  const state = await emu.call("GET", "/_emulator/state");
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

/** A GET with a Host header of our choosing (fetch will not set one), as a DNS-rebinding page's request arrives. */
function getWithHost(path: string, host: string, key?: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(emu.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host, ...(key ? { authorization: `Bearer ${key}` } : {}) } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

it("/_emulator/state, /_emulator/requests and /_emulator/jobs need the emulator's key and a loopback Host (issue 18 L9)", async () => {
  await emu.client().pods.create({ name: "p", image: "i", cpu: { id: "cpu3g", vcpuCount: 2 }, env: { SESSION_SECRET: "do-not-leak-0123456789" } });
  for (const path of ["/_emulator/state", "/_emulator/requests", "/_emulator/jobs"]) {
    const none = await emu.call("GET", path, undefined, null);
    expect(none.status, path).toBe(401);
    expect(none.body.detail).toBe(`${path} needs the emulator's key: Authorization: Bearer <RUNPOD_API_KEY>`);
    const wrong = await emu.call("GET", path, undefined, "not-the-key");
    expect(wrong.status, path).toBe(401);
    expect(JSON.stringify(none.body) + JSON.stringify(wrong.body)).not.toContain("do-not-leak");
    // A page whose own name resolves to 127.0.0.1 sends its own Host: refused even if it somehow had the key.
    for (const host of ["attacker.example", "attacker.example:8787", "127.0.0.1.nip.io", "localhost.attacker.example"]) {
      const rebound = await getWithHost(path, host, API_KEY);
      expect(rebound.status, `${path} Host ${host}`).toBe(403);
      expect((JSON.parse(rebound.body) as { detail: string }).detail).toContain(`Host ${JSON.stringify(host)} is not allowed for ${path}`);
      expect(rebound.body).not.toContain("do-not-leak");
    }
    for (const host of ["127.0.0.1", `127.0.0.1:${new URL(emu.origin).port}`, "localhost:1", "[::1]:8787"]) {
      expect((await getWithHost(path, host, API_KEY)).status, `${path} Host ${host}`).toBe(200);
    }
  }
  expect(JSON.stringify((await emu.call("GET", "/_emulator/state")).body)).toContain("do-not-leak");
  // The other controls check Host too.
  expect((await getWithHost("/_emulator/faults", "attacker.example")).status).toBe(403);
});

it("an empty list query (regions=) and a __proto__ key in a body are refused by name (issue 17)", async () => {
  const allRegions = "NORTH_AMERICA, SOUTH_AMERICA, EUROPE, ASIA, MIDDLE_EAST, AFRICA, OCEANIA, ANTARCTICA";
  for (const query of ["regions=", "regions=&regions=EUROPE", "include=GPU_AVAILABILITY&regions="]) {
    const answer = await emu.call("GET", `/v2/catalog/datacenters?${query}`);
    expect(answer.status, query).toBe(400);
    expect(answer.body.errors, query).toEqual([expect.stringMatching(new RegExp(`^regions: an empty value is not allowed; give one or more of ${allRegions}`))]);
  }
  expect((await emu.call("GET", "/v2/catalog/datacenters?regions=EUROPE")).status).toBe(200);
  // A pod env key __proto__: named, not "Body is not valid JSON"; nothing was created.
  const podsBefore = (await emu.call("GET", "/v2/pods")).body.length;
  const res = await fetch(`${emu.origin}/v2/pods`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: '{"name":"p","image":"i","cpu":{"id":"cpu3g","vcpuCount":2},"env":{"A":"1","__proto__":"x"}}',
  });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { detail: string };
  expect(body.detail).toBe('body.env.__proto__: the key "__proto__" is not allowed; it names an object\'s prototype in JavaScript, so the emulator cannot keep it as data; rename it');
  expect((await emu.call("GET", "/v2/pods")).body.length).toBe(podsBefore);
  expect(({} as Record<string, unknown>).A).toBeUndefined();
  // A body that is not JSON keeps its own message.
  const broken = await fetch(`${emu.origin}/v2/pods`, { method: "POST", headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" }, body: '{"name":' });
  expect(broken.status).toBe(400);
  expect(((await broken.json()) as { detail: string }).detail).toMatch(/not valid JSON/);
});
