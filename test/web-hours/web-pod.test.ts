// The web pod's hours against the local RunPod: the scheduled step stops the pod at the end of its hours and starts
// it at the beginning (through POST /v2/pods/{id}/action), the emulator bills only the running stretches, and a start
// RunPod refuses (injected: no free CPU on the host) comes back in words with the way out, from the library and from
// `npm run web`.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWebHours } from "../../src/common/daily-window";
import { BillingLedger } from "../../src/emulator/billing";
import { buildEmulator } from "../../src/emulator/emulator";
import { createRunPodRestClient, type RunPodRestClient } from "../../src/runpod/rest";
import { applyWebHours, startWebPod, webPodStatus, WebPodStartRefused } from "../../src/runpod/web-pod-hours";

const KEY = "web-hours-test-key-0123456789";
const HOUR = 3_600_000;
let clock = Date.parse("2026-12-01T06:00:00Z"); // 07:00 in Berlin (CET)
let emulator: FastifyInstance;
let baseURL: string;
let client: RunPodRestClient;
const dir = mkdtempSync(join(tmpdir(), "web-hours-"));

beforeAll(async () => {
  emulator = await buildEmulator({ apiKey: KEY, billing: new BillingLedger(undefined, () => clock) });
  await emulator.listen({ host: "127.0.0.1", port: 0 });
  const address = emulator.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  baseURL = `http://127.0.0.1:${address.port}`;
  client = createRunPodRestClient({ apiKey: KEY, baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

async function json(path: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(`${baseURL}${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...init.headers } });
  return response.status === 204 ? undefined : response.json();
}

async function refuseNextStart(detail: string) {
  await json("/_emulator/faults", { method: "POST", body: JSON.stringify({ method: "POST", pathPattern: "^/v2/pods/[^/]+/action$", status: 500, detail }) });
}

describe("web hours against the emulator", () => {
  const hours = parseWebHours("07:00-23:00 Europe/Berlin");

  it("stops at the end of the hours, starts at the beginning, and only running hours are billed", async () => {
    const pod = await client.pods.create({ name: "metahuman-web", image: "web:1", ports: ["4321/http"], cpu: { id: "cpu3c", vcpuCount: 2 } });
    expect(await applyWebHours(client, pod.id, hours, new Date(clock))).toBe("already running");

    clock = Date.parse("2026-12-01T22:00:00Z"); // 23:00 in Berlin: closed
    expect(await applyWebHours(client, pod.id, hours, new Date(clock))).toBe("stopped");
    expect((await webPodStatus(client, pod.id, hours, new Date(clock))).status).toBe("EXITED");
    clock = Date.parse("2026-12-01T23:00:00Z");
    expect(await applyWebHours(client, pod.id, hours, new Date(clock))).toBe("already stopped");

    clock = Date.parse("2026-12-02T06:00:00Z"); // 07:00 next morning: open
    expect(await applyWebHours(client, pod.id, hours, new Date(clock))).toBe("started");
    clock = Date.parse("2026-12-02T08:00:00Z");
    await client.pods.action(pod.id, "stop");

    const cpus = (await json("/v2/catalog/cpus")).cpus as { id: string; price: { securePerVcpu: number } }[];
    const rate = cpus.find((c) => c.id === "cpu3c")!.price.securePerVcpu;
    const bill = await json(`/v2/billing/pods?podId=${pod.id}&bucketSize=day&startTime=2026-12-01T00:00:00Z&endTime=2026-12-03T00:00:00Z`);
    // Running 06:00→22:00 (16 h) and 06:00→08:00 (2 h); the 8 stopped hours between cost no CPU.
    expect(bill.metadata.totals.cpuAmount).toBeCloseTo(2 * rate * 18, 6);
    expect(bill.records.map((r: { cpuAmount: number }) => r.cpuAmount)).toEqual([
      expect.closeTo(2 * rate * 16, 6), expect.closeTo(2 * rate * 2, 6),
    ]);
  });

  it("a start RunPod refuses is said plainly with the way out; the pod stays stopped and unbilled", async () => {
    const pod = await client.pods.create({ name: "metahuman-web", image: "web:1", cpu: { id: "cpu3c", vcpuCount: 2 } });
    await client.pods.action(pod.id, "stop");
    await refuseNextStart("There are not enough free CPUs on the host machine to start this pod.");
    const error = await startWebPod(client, pod.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebPodStartRefused);
    expect((error as Error).message).toContain("There are not enough free CPUs on the host machine to start this pod.");
    expect((error as Error).message).toContain("pulumi up --replace");
    expect((await client.pods.get(pod.id)).status).toBe("EXITED");
    // The next start (no fault left) goes through.
    expect(await startWebPod(client, pod.id)).toBe("started");
  });

  it("npm run web: status, stop, and a refused start (exit 3, the way out, never the key)", async () => {
    const pod = await client.pods.create({ name: "metahuman-web", image: "web:1", cpu: { id: "cpu3c", vcpuCount: 2 } });
    const stackFile = join(dir, "Pulumi.test.yaml");
    writeFileSync(stackFile, 'config:\n  metahuman:webHours: "07:00-23:00 Europe/Berlin"\n');
    const env = { ...process.env, RUNPOD_API_KEY: KEY, RUNPOD_API_URL: baseURL, WEB_POD_ID: pod.id };
    const web = (...args: string[]) => promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/web.ts", ...args, "--config", stackFile],
      { env, encoding: "utf8", timeout: 60_000 });

    expect((await web("status")).stdout).toMatch(new RegExp(`^web pod ${pod.id}: RUNNING .*webHours 07:00-23:00 Europe/Berlin: should be (running|stopped) now\\n$`));
    expect((await web("stop")).stdout).toBe(`web pod ${pod.id}: stopped\n`);
    await refuseNextStart("There are not enough free CPUs on the host machine to start this pod.");
    const failed = await web("start").catch((e: { code: number; stdout: string; stderr: string }) => e) as { code: number; stderr: string; stdout: string };
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/^web: RunPod refused to start the web pod .*not enough free CPUs/);
    expect(failed.stderr).toContain("pulumi up --replace");
    expect(failed.stderr + failed.stdout).not.toContain(KEY);
  }, 60_000);
});
