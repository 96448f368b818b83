// `pulumi up` while RunPod misbehaves: a burst of 429s with Retry-After and a 500 on create. The 429s are
// waited out; the 500 on a create fails the run with a clear error (a create is never retried blindly), a second
// `up` converges, and no resource is ever created twice.
import { afterAll, beforeAll, expect, it } from "vitest";
import { api, list, PulumiProject, startEmulator, type RunningEmulator } from "./harness";

let emu: RunningEmulator;
let project: PulumiProject;

beforeAll(async () => {
  emu = await startEmulator();
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  // The key also as a config secret: the way a real stack is set up.
  await project.setConfig("runpodApiKey", emu.apiKey, { secret: true });
  await project.setConfig("sessionSecret", "e2e-session-secret-faults", { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

async function injectFault(rule: Record<string, unknown>): Promise<void> {
  const res = await api(emu, "POST", "/_emulator/faults", rule);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

interface Recorded { method: string; path: string; status?: number; faulted: boolean }

async function recordedRequests(): Promise<Recorded[]> {
  return (await api(emu, "GET", "/_emulator/requests")).body.requests as Recorded[];
}

it("survives a 429 burst and a 500 on create without duplicating a resource", async () => {
  // Every create answers 429 twice (Retry-After: 1), then the endpoint create answers 500 once.
  for (const path of ["network-volumes", "serverless", "pods"]) {
    await injectFault({ method: "POST", pathPattern: `^/v2/${path}$`, status: 429, retryAfterS: 1, times: 2 });
  }
  await injectFault({ method: "GET", pathPattern: "^/v2/catalog/", status: 429, retryAfterS: 1, times: 2 });
  await injectFault({ method: "POST", pathPattern: "^/v2/serverless$", status: 500, times: 1 });

  // The 429s are retried after their Retry-After. The 500 on the endpoint's create is not: a create is not
  // idempotent, and a blind retry could make a second endpoint. So the first `up` fails with a clear error that
  // names the call and RunPod's answer (and never the key); the volume it did create is recorded in the state.
  const first = await project.run(["up", "--yes", "--skip-preview"]);
  expect(first.code, first.output).not.toBe(0);
  expect(first.output).toMatch(/POST \S*\/v2\/serverless\S*[^\n]*\b500\b|\b500\b[^\n]*\/v2\/serverless/);
  expect(first.output).not.toContain(emu.apiKey);
  expect((await list(emu, "/v2/network-volumes")).length).toBe(1);
  expect(await list(emu, "/v2/serverless")).toEqual([]);

  // The second `up` converges: it creates what is missing and nothing twice.
  const second = await project.run(["up", "--yes", "--skip-preview"]);
  expect(second.code, second.output).toBe(0);

  const outputs = await project.outputs();
  const volumes = await list(emu, "/v2/network-volumes");
  const endpoints = await list(emu, "/v2/serverless");
  const pods = await list(emu, "/v2/pods");
  expect(volumes.map((v) => v.id)).toEqual([outputs.volumeId]);
  expect(endpoints.map((e) => e.id)).toEqual([outputs.endpointId]);
  expect(pods.map((p) => p.id)).toEqual([outputs.webPodId]);

  // Every fault fired, and exactly one create per resource got through.
  const requests = await recordedRequests();
  const creates = (path: string) => requests.filter((r) => r.method === "POST" && r.path === path);
  for (const path of ["/v2/network-volumes", "/v2/serverless", "/v2/pods"]) {
    expect(creates(path).filter((r) => r.faulted).length, `faults on ${path}`).toBeGreaterThan(0);
    expect(creates(path).filter((r) => !r.faulted && r.status !== undefined && r.status < 300), `creates of ${path}`).toHaveLength(1);
  }
  const left = (await api(emu, "GET", "/_emulator/faults")).body.faults as { remaining: number }[];
  expect(left.every((f) => f.remaining === 0), JSON.stringify(left)).toBe(true);

  const again = await project.run(["preview", "--expect-no-changes"]);
  expect(again.code, again.output).toBe(0);
});
