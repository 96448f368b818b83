// The emulator's billing routes, and `npm run cost -- --actual` against them end to end: what the emulator
// ran (a web pod and a volume for a week, worker seconds) comes back as actual spend beside the estimate.
// The emulator bills at its own catalog prices, which are not the cost model's fallback table: an estimate
// made from the live catalog must match the bill, and one made from the table must not.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRICE_TABLE } from "../../src/infra/cost";
import { BillingLedger } from "../../src/emulator/billing";
import { buildEmulator } from "../../src/emulator/emulator";

const KEY = "billing-test-key";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let emulator: FastifyInstance;
let baseURL: string;
const now = Date.now();
const windowStart = Math.floor(now / DAY) * DAY - 6 * DAY; // lastN=7 days: today and the six before
const periodDays = (now - windowStart) / DAY;
// What the emulator's catalog answers (GET /v2/catalog/cpus, /gpus), by hand: cpu3g $0.045 per vCPU-hour,
// RTX 4090 (ADA_24) $1.224/h serverless = $0.00034/s. Storage is RunPod's published rates.
const CPU3G_PER_VCPU_HOUR = 0.045;
const ADA_24_PER_SECOND = 0.00034;
const DISK_PER_GB_MONTH = 0.1;
const VOLUME_PER_GB_MONTH = 0.07;
const HOURS_PER_MONTH = 730;

beforeAll(async () => {
  const ledger = new BillingLedger(); // the emulator's own catalog rates
  // The seed's stack, running since before the window: 4 vCPU cpu3g pod with 20 GB disk, 50 GB volume.
  ledger.trackPod({ podId: "pod-web", vcpu: 4, flavor: "cpu3g", containerDiskGb: 20, startedAt: now - 10 * DAY });
  ledger.trackVolume({ networkVolumeId: "vol-1", sizeGb: 50, type: "STANDARD", createdAt: now - 10 * DAY });
  // Worker seconds worth the light profile's 420 GPU-s/day over the period, in 60 s workers over the last hours.
  let remaining = 420 * periodDays;
  for (let t = now - 1000; remaining > 0; t -= 61_000) {
    const seconds = Math.min(60, remaining);
    ledger.recordWorkerSeconds({ endpointId: "ep-1", gpuPool: "ADA_24", startedAt: t - seconds * 1000, stoppedAt: t });
    remaining -= seconds;
  }
  emulator = await buildEmulator({ apiKey: KEY, billing: ledger });
  await emulator.listen({ host: "127.0.0.1", port: 0 });
  const address = emulator.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  baseURL = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => { await emulator.close(); });

const get = (path: string, key = KEY) => fetch(`${baseURL}${path}`, { headers: { authorization: `Bearer ${key}` } });

describe("emulator /v2/billing", () => {
  it("answers per resource per day bucket in the spec's shape", async () => {
    const response = await get("/v2/billing/pods?bucketSize=day&lastN=2");
    expect(response.status).toBe(200);
    const body = await response.json() as { records: Record<string, unknown>[]; metadata: Record<string, any> };
    expect(body.records).toHaveLength(2);
    const [yesterday] = body.records;
    // a whole day: 4 × 0.045 × 24 = $4.32 CPU; disk 20 × 0.10 / 730 × 24 = $0.065753...
    expect(yesterday).toMatchObject({ podId: "pod-web", gpuAmount: 0, cpuAmount: 4.32, diskAmount: 0.0658, totalAmount: 4.3858 });
    expect(body.metadata).toMatchObject({ recordCount: 2, uniquePodCount: 1, query: { bucketSize: "day", podId: null } });
    expect(body.metadata.query.startTime).toBe(new Date(Math.floor(now / DAY) * DAY - DAY).toISOString());
  });

  it("filters by id, refuses a bad key and a bad query with problem+json naming the field", async () => {
    const filtered = await (await get("/v2/billing/network-volumes?lastN=1&networkVolumeId=nope")).json() as { records: unknown[] };
    expect(filtered.records).toEqual([]);
    expect((await get("/v2/billing/serverless", "wrong")).status).toBe(401);
    const bad = await get("/v2/billing/serverless?lastN=3&startTime=2026-01-01T00:00:00Z");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect((await bad.json() as { detail: string }).detail).toContain("lastN: cannot be combined with startTime/endTime");
    const size = await (await get("/v2/billing/pods?bucketSize=fortnight")).json() as { detail: string; errors: string[] };
    expect(size.errors).toEqual(["bucketSize: must be equal to one of the allowed values (hour, day, week, month, year)"]);
    const lastN = await get("/v2/billing/pods?lastN=0");
    expect(lastN.status).toBe(400);
    expect((await lastN.json() as { errors: string[] }).errors).toEqual(["lastN: must be >= 1"]);
    const wrongFilter = await (await get("/v2/billing/pods?serverlessId=x")).json() as { errors: string[] };
    expect(wrongFilter.errors).toEqual(["serverlessId: not a query parameter of this operation"]);
  });
});

describe("npm run cost -- --actual --days 7", () => {
  const cost = async (...extra: string[]) => {
    // Asynchronous: the emulator answering the CLI lives in this process.
    const run = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/cost.ts", "--actual", "--days", "7", "--json", ...extra], {
      env: { ...process.env, RUNPOD_API_KEY: KEY, RUNPOD_API_URL: baseURL }, encoding: "utf8", timeout: 60_000,
    });
    expect(run.stderr).toBe("");
    const { actual, estimate } = JSON.parse(run.stdout) as { actual: { actuals: Record<string, number | string>; comparison: any }; estimate: any };
    return { actual, estimate, rows: Object.fromEntries(actual.comparison.rows.map((r: any) => [r.item, r])) as Record<"web pod" | "network volume" | "serverless", { estimateUsd: number; actualUsd: number; differenceUsd: number }> };
  };
  const monthsInPeriod = periodDays / (HOURS_PER_MONTH / 24);
  const webPodMonthly = (perVcpuHour: number) => 4 * perVcpuHour * HOURS_PER_MONTH + 20 * DISK_PER_GB_MONTH;

  it("with the live catalog, the estimate for the same period matches what was billed", async () => {
    const { actual, estimate, rows } = await cost();
    expect(estimate.priceSource.source).toBe("catalog");
    expect(actual.actuals.startTime).toBe(new Date(windowStart).toISOString());
    expect(actual.actuals.days).toBeCloseTo(periodDays, 3);
    // web pod: (131.40 + 2.00) a month; volume 3.50 a month (the CLI reads the clock a moment after this test did)
    expect(rows["web pod"].estimateUsd).toBeCloseTo(webPodMonthly(CPU3G_PER_VCPU_HOUR) * monthsInPeriod, 2);
    expect(rows["web pod"].actualUsd).toBeCloseTo(webPodMonthly(CPU3G_PER_VCPU_HOUR) * monthsInPeriod, 2);
    expect(rows["network volume"].actualUsd).toBeCloseTo(50 * VOLUME_PER_GB_MONTH * monthsInPeriod, 2);
    expect(rows["network volume"].estimateUsd).toBeCloseTo(rows["network volume"].actualUsd, 2);
    // serverless: 420 s/day × days at the catalog's rate
    expect(rows.serverless.actualUsd).toBeCloseTo(420 * periodDays * ADA_24_PER_SECOND, 2);
    expect(actual.comparison.nearestProfile).toBe("light");
  }, 60_000);

  it("with --offline, the table's estimate differs from the bill by exactly the price difference", async () => {
    const { estimate, rows } = await cost("--offline");
    expect(estimate.priceSource.source).toBe("table");
    const tableCpu = PRICE_TABLE.cpuUsdPerVcpuHour.cpu3g;
    expect(tableCpu).not.toBe(CPU3G_PER_VCPU_HOUR); // else this test could not tell the two apart
    expect(rows["web pod"].estimateUsd).toBeCloseTo(webPodMonthly(tableCpu) * monthsInPeriod, 2);
    expect(rows["web pod"].actualUsd).toBeCloseTo(webPodMonthly(CPU3G_PER_VCPU_HOUR) * monthsInPeriod, 2);
    expect(rows["web pod"].differenceUsd).toBeCloseTo(4 * (CPU3G_PER_VCPU_HOUR - tableCpu) * periodDays * 24, 2);
    expect(rows.serverless.actualUsd).toBeCloseTo(420 * periodDays * ADA_24_PER_SECOND, 2);
  }, 60_000);
});
