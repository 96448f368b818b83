// The emulator's billing routes, and `npm run cost -- --actual` against them end to end: what the emulator
// ran (a web pod and a volume for a week, worker seconds) comes back as actual spend beside the estimate.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tablePrices } from "../../src/infra/cost";
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

beforeAll(async () => {
  const ledger = new BillingLedger(tablePrices());
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
    // a whole day: 4 × 0.04 × 24 = $3.84 CPU; disk 20 × 0.10 / 730 × 24 = $0.065753...
    expect(yesterday).toMatchObject({ podId: "pod-web", gpuAmount: 0, cpuAmount: 3.84, diskAmount: 0.0658, totalAmount: 3.9058 });
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
    const size = await (await get("/v2/billing/pods?bucketSize=fortnight")).json() as { detail: string };
    expect(size.detail).toBe("bucketSize: must be one of hour, day, week, month, year");
  });
});

describe("npm run cost -- --actual --days 7", () => {
  it("shows actual spend beside the estimate for the same period", async () => {
    // Asynchronous: the emulator answering the CLI lives in this process.
    const run = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/cost.ts", "--actual", "--days", "7", "--json", "--offline"], {
      env: { ...process.env, RUNPOD_API_KEY: KEY, RUNPOD_API_URL: baseURL }, encoding: "utf8", timeout: 60_000,
    });
    expect(run.stderr).toBe("");
    const { actual } = JSON.parse(run.stdout) as { actual: { actuals: Record<string, number | string>; comparison: any } };
    expect(actual.actuals.startTime).toBe(new Date(windowStart).toISOString());
    expect(actual.actuals.days).toBeCloseTo(periodDays, 3);
    const rows = Object.fromEntries(actual.comparison.rows.map((r: any) => [r.item, r]));
    // The emulator bills at the same table prices, so fixed costs agree to rounding (1/10 000 USD a record).
    // web pod: (116.80 + 2.00) × days / (730/24); volume: 3.50 × days / (730/24)
    // (the CLI reads the clock a moment after this test did: hence 3 digits)
    expect(rows["web pod"].estimateUsd).toBeCloseTo(118.8 * periodDays / (730 / 24), 3);
    expect(rows["web pod"].actualUsd).toBeCloseTo(rows["web pod"].estimateUsd, 2);
    expect(rows["network volume"].actualUsd).toBeCloseTo(3.5 * periodDays / (730 / 24), 2);
    // serverless: 420 s/day × days × $0.00031
    expect(rows.serverless.actualUsd).toBeCloseTo(420 * periodDays * 0.00031, 2);
    expect(actual.comparison.nearestProfile).toBe("light");
  }, 60_000);
});
