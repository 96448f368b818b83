// Billing from what the emulator actually ran: a network volume, a serverless endpoint and a CPU pod made
// through the real REST v2 client, jobs run through the job API (in-process workers, and real SDK worker
// processes when .venv exists), and /v2/billing/* plus `npm run cost -- --actual --days 1` must answer
// rate × time for exactly those stretches. Time is a test clock shared by the ledger and the job store:
// it is advanced, never slept on, so every amount is known by hand.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import Ajv2020 from "ajv/dist/2020";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingLedger } from "../../src/emulator/billing";
import { buildEmulator } from "../../src/emulator/emulator";
import type { JobSystemOptions } from "../../src/emulator/job-system";
import { formatAjvError, rewriteConditionals } from "../../src/emulator/rest-validation";
import { SPEC_COPY_PATH } from "../../src/emulator/spec/runpod-spec";
import { createRunPodRestClient, type RunPodRestClient } from "../../src/runpod/rest";

const KEY = "billing-wiring-key";
const SECOND = 1000;
const HOUR = 3_600_000;
const T0 = Date.parse("2026-06-01T01:00:00Z"); // inside one UTC day: lastN=1 day covers the whole run
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The rates, by hand: the emulator's own catalog (what GET /v2/catalog/cpus and /gpus answer, and what its
// ledger charges by default), and RunPod's published storage rates.
const CPU_PER_VCPU_HOUR = 0.045; // cpu3g
const DISK_PER_GB_MONTH = 0.1;
const VOLUME_FIRST_TB_PER_GB_MONTH = 0.07;
const VOLUME_BEYOND_TB_PER_GB_MONTH = 0.05;
const HOURS_PER_MONTH = 730;
const AMPERE_80_PER_SECOND = 0.00082; // $2.952/h
const AMPERE_16_PER_SECOND = 0.00018; // $0.648/h

interface Emulator { app: FastifyInstance; origin: string; rest: RunPodRestClient; advance(ms: number): void; now(): number; close(): Promise<void> }

async function startEmulator(jobs: JobSystemOptions): Promise<Emulator> {
  let now = T0;
  const ledger = new BillingLedger(undefined, () => now);
  const app = await buildEmulator({ apiKey: KEY, billing: ledger, jobs });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    app, origin,
    rest: createRunPodRestClient({ baseURL: origin, apiKey: KEY }),
    advance: (ms) => { now += ms; },
    now: () => now,
    close: async () => {
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    },
  };
}

async function getJson(emu: Emulator, path: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(`${emu.origin}${path}`, {
    ...init, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...init.headers },
  });
  expect(response.status, `${init.method ?? "GET"} ${path}`).toBe(200);
  return response.json();
}

/** Polls the job API's /health until the endpoint has no worker up (scale to zero happened). */
async function untilNoWorkers(emu: Emulator, endpointId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { workers } = await getJson(emu, `/v2/${endpointId}/health`);
    if (workers.ready + workers.initializing === 0) return;
    await sleep(50);
  }
  throw new Error(`endpoint ${endpointId} still has workers after 10 s`);
}

describe("billing from what the emulator ran (in-process workers)", () => {
  const JOB_SECONDS = 30; // each job "runs" this long on the test clock
  let emu: Emulator;
  let volumeId: string;
  let endpointId: string;
  let podId: string;

  beforeAll(async () => {
    emu = await startEmulator({
      inProcess: {
        idleTimeoutMs: 10, // real ms: scale to zero right after the jobs, without moving the test clock
        handler: async () => {
          emu.advance(JOB_SECONDS * SECOND);
          return { response: "done", finish_reason: "stop" };
        },
      },
    });
    // T0: a 500 GB volume, an AMPERE_80 endpoint on it, a 4 vCPU cpu3g pod with 20 GB disk mounting it.
    const volume = await emu.rest.networkVolumes.create({ name: "data", size: 500, dataCenter: "EU-RO-1" });
    volumeId = volume.id;
    const endpoint = await emu.rest.endpoints.create({
      name: "llm", type: "QUEUE", image: "worker:1", gpu: { pools: ["AMPERE_80"] },
      workers: { min: 0, max: 1, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
      networkVolumes: [volumeId], dataCenterIds: ["EU-RO-1"],
    });
    endpointId = endpoint.id;
    const pod = await emu.rest.pods.create({
      name: "web", image: "web:1", disk: 20, cpu: { id: "cpu3g", vcpuCount: 4 },
      mounts: { network: [{ volumeId, path: "/workspace" }] },
    });
    podId = pod.id;

    emu.advance(HOUR); // T0+1h: the volume grows to 1500 GB (1000 GB at the first-TB rate, 500 beyond)
    expect((await emu.rest.networkVolumes.update(volumeId, { size: 1500 })).size).toBe(1500);
    emu.advance(HOUR); // T0+2h: the pod stops
    await emu.rest.pods.action(podId, "stop");
    emu.advance(HOUR); // T0+3h: the pod starts again
    await emu.rest.pods.action(podId, "start");
    emu.advance(HOUR); // T0+4h: two jobs, 30 s each on the one worker
    for (const text of ["first", "second"]) {
      const done = await getJson(emu, `/v2/${endpointId}/runsync`, { method: "POST", body: JSON.stringify({ input: { prompt: text } }) });
      expect(done.status).toBe("COMPLETED");
    }
    await untilNoWorkers(emu, endpointId);
    expect(emu.now()).toBe(T0 + 4 * HOUR + 2 * JOB_SECONDS * SECOND);
    emu.advance(HOUR - 2 * JOB_SECONDS * SECOND); // T0+5h: the pod is terminated, the volume deleted
    await emu.rest.pods.action(podId, "terminate");
    await emu.rest.networkVolumes.delete(volumeId);
    emu.advance(HOUR); // T0+6h: nothing runs any more; the bills are read now
  });
  afterAll(async () => { await emu?.close(); });

  // By hand: the pod ran T0–T0+2h and T0+3h–T0+5h; the volume was 500 GB for 1 h, then 1500 GB for 4 h;
  // the one worker was up for the two jobs (2 × 30 s) on AMPERE_80.
  const podHours = 4;
  const podCpu = 4 * CPU_PER_VCPU_HOUR * podHours; // 0.72
  const podDisk = (20 * DISK_PER_GB_MONTH / HOURS_PER_MONTH) * podHours; // 0.010959
  const volumeSmall = (500 * VOLUME_FIRST_TB_PER_GB_MONTH / HOURS_PER_MONTH) * 1; // 0.047945
  const volumeLarge = ((1000 * VOLUME_FIRST_TB_PER_GB_MONTH + 500 * VOLUME_BEYOND_TB_PER_GB_MONTH) / HOURS_PER_MONTH) * 4; // 0.520548
  const gpu = AMPERE_80_PER_SECOND * 2 * JOB_SECONDS; // 0.0492

  it("/v2/billing/pods bills the pod's running stretches only, at vCPU and disk rates", async () => {
    const day = await getJson(emu, "/v2/billing/pods?bucketSize=day&lastN=1");
    expect(day.records).toHaveLength(1);
    expect(day.records[0]).toMatchObject({ podId, startTime: "2026-06-01T00:00:00.000Z", gpuAmount: 0 });
    expect(day.records[0].cpuAmount).toBeCloseTo(podCpu, 4);
    expect(day.records[0].diskAmount).toBeCloseTo(podDisk, 3);
    expect(day.metadata.totals.totalAmount).toBeCloseTo(podCpu + podDisk, 3);
    expect(day.metadata.uniquePodCount).toBe(1);

    // Per hour: billed 01–03 and 04–06; nothing for 03–04 (stopped) or after 06 (terminated).
    const hours = await getJson(emu, "/v2/billing/pods?bucketSize=hour&startTime=2026-06-01T00:00:00Z&endTime=2026-06-01T07:00:00Z");
    expect(hours.records.map((r: { startTime: string }) => r.startTime.slice(11, 13))).toEqual(["01", "02", "04", "05"]);
    for (const r of hours.records) expect(r.cpuAmount).toBeCloseTo(4 * CPU_PER_VCPU_HOUR, 4);
  });

  it("/v2/billing/network-volumes bills each size for as long as it held, tiered beyond 1 TB, until deleted", async () => {
    const day = await getJson(emu, "/v2/billing/network-volumes?bucketSize=day&lastN=1");
    expect(day.records).toHaveLength(1);
    expect(day.records[0]).toMatchObject({ networkVolumeId: volumeId, highPerformanceAmount: 0 });
    expect(day.records[0].standardAmount).toBeCloseTo(volumeSmall + volumeLarge, 3);
    const hours = await getJson(emu, `/v2/billing/network-volumes?bucketSize=hour&startTime=2026-06-01T00:00:00Z&endTime=2026-06-01T07:00:00Z&networkVolumeId=${volumeId}`);
    expect(hours.records.map((r: { startTime: string }) => r.startTime.slice(11, 13))).toEqual(["01", "02", "03", "04", "05"]);
    expect(hours.records[0].standardAmount).toBeCloseTo(volumeSmall, 4);
    expect(hours.records[1].standardAmount).toBeCloseTo(volumeLarge / 4, 4);
  });

  it("/v2/billing/serverless bills the worker's seconds at the endpoint's pool rate", async () => {
    const day = await getJson(emu, "/v2/billing/serverless?bucketSize=day&lastN=1");
    expect(day.records).toHaveLength(1);
    expect(day.records[0]).toMatchObject({ serverlessId: endpointId, cpuAmount: 0, diskAmount: 0, feeAmount: 0 });
    expect(day.records[0].gpuAmount).toBeCloseTo(gpu, 4);
    const hours = await getJson(emu, "/v2/billing/serverless?bucketSize=hour&lastN=7");
    expect(hours.records.map((r: { startTime: string }) => r.startTime.slice(11, 13))).toEqual(["05"]); // T0+4h = 05:00 UTC
  });

  it("every billing answer of this run is valid against the official spec's schema", async () => {
    const SPEC_ID = "https://spec.local/runpod-openapi-v2";
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...(rewriteConditionals(JSON.parse(readFileSync(SPEC_COPY_PATH, "utf8"))) as object), $id: SPEC_ID });
    const schemas = { pods: "ListPodBillingResponse", serverless: "ListServerlessBillingResponse", "network-volumes": "ListNetworkVolumeBillingResponse" };
    const failures: string[] = [];
    for (const [path, schema] of Object.entries(schemas)) {
      for (const query of ["bucketSize=day&lastN=1", "bucketSize=hour&lastN=7"]) {
        const body = await getJson(emu, `/v2/billing/${path}?${query}`);
        expect(body.records.length, `${path}?${query}`).toBeGreaterThan(0);
        const check = ajv.getSchema(`${SPEC_ID}#/components/schemas/${schema}`)!;
        if (!check(body)) failures.push(...(check.errors ?? []).map((e) => `${path}?${query}: ${formatAjvError(e)}`));
      }
    }
    expect(failures).toEqual([]);
  });

  it("`npm run cost -- --actual --days 1` shows those amounts", async () => {
    const cost = (...extra: string[]) => promisify(execFile)("npm", ["run", "--silent", "cost", "--", "--actual", "--days", "1", "--offline", ...extra], {
      env: { ...process.env, RUNPOD_API_KEY: KEY, RUNPOD_API_URL: emu.origin }, encoding: "utf8", timeout: 60_000,
    });
    const json = await cost("--json");
    expect(json.stderr).toBe("");
    const { actuals } = (JSON.parse(json.stdout) as { actual: { actuals: Record<string, number | string> } }).actual;
    expect(actuals.startTime).toBe("2026-06-01T00:00:00.000Z");
    expect(actuals.podsUsd).toBeCloseTo(podCpu + podDisk, 3);
    expect(actuals.networkVolumesUsd).toBeCloseTo(volumeSmall + volumeLarge, 3);
    expect(actuals.serverlessUsd).toBeCloseTo(gpu, 4);
    expect(actuals.totalUsd).toBeCloseTo(podCpu + podDisk + volumeSmall + volumeLarge + gpu, 3);

    const text = (await cost()).stdout;
    expect(text).toMatch(/network volume\s+\S+\s+0\.57\s/); // 0.568
    expect(text).toMatch(/web pod\s+\S+\s+0\.73\s/); // 0.731
    expect(text).toMatch(/serverless\s+\S+\s+0\.05\s/); // 0.0492
    expect(text).toMatch(/total\s+1\.35/); // 1.349
  }, 120_000);
});

describe("billing from real SDK worker processes", () => {
  let emu: Emulator;
  afterAll(async () => { await emu?.close(); });

  it("bills a real worker's life (start to exit) at the endpoint's pool rate", async () => {
    emu = await startEmulator({ executor: "workers", workerPollWaitMs: 1000 });
    const endpoint = await emu.rest.endpoints.create({
      name: "llm", type: "QUEUE", image: "worker:1", gpu: { pools: ["AMPERE_16"] },
      workers: { min: 0, max: 1, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
    });
    // The clock stands still through the cold start and the job: the worker starts and finishes at T0.
    const done = await getJson(emu, `/v2/${endpoint.id}/runsync`, {
      method: "POST", body: JSON.stringify({ input: { messages: [{ role: "user", content: "bill me" }], max_tokens: 4 } }),
    });
    expect(done.status).toBe("COMPLETED");
    // 90 s later (past the 5 s idle timeout on the same clock) the manager stops the process.
    emu.advance(90 * SECOND);
    await untilNoWorkers(emu, endpoint.id);
    const day = await getJson(emu, "/v2/billing/serverless?bucketSize=day&lastN=1");
    expect(day.records).toHaveLength(1);
    expect(day.records[0].serverlessId).toBe(endpoint.id);
    expect(day.records[0].gpuAmount).toBeCloseTo(AMPERE_16_PER_SECOND * 90, 4); // 0.0162
  }, 60_000);
});
