// /v2/billing/{serverless,pods,network-volumes}: the ledger's accruals per resource per time bucket, in the
// spec's shapes (ServerlessBillingRecord, PodBillingRecord, NetworkVolumeBillingRecord + metadata). The
// query's types were checked against the spec's parameters before a handler runs; what is left here are
// the rules across parameters. The work done is bounded by what the ledger holds, never by the window a
// query asks for: `lastN` has no upper bound in the spec, so a window may span any number of buckets.
import type { FastifyPluginAsync } from "fastify";
import type { Accrual, BillingLedger } from "../billing";
import { problem, type RestV2Context } from "./context";

const HOUR_MS = 3_600_000;
/** No RunPod bill predates the Unix epoch: a longer `lastN` window starts there. */
const EARLIEST = 0;

const BUCKET_SIZES = ["hour", "day", "week", "month", "year"] as const;
type BucketSize = (typeof BUCKET_SIZES)[number];

/** Date.UTC, also for years 0–99 (which Date.UTC takes as 1900–1999). */
function utc(year: number, month: number, day = 1, hour = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, 0, 0, 0);
  return d.getTime();
}

function floorBucket(t: number, size: BucketSize): number {
  const d = new Date(t);
  switch (size) {
    case "hour": return utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
    case "day": return utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case "week": { // ISO weeks start on Monday
      const day = utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return day - ((d.getUTCDay() + 6) % 7) * 24 * HOUR_MS;
    }
    case "month": return utc(d.getUTCFullYear(), d.getUTCMonth());
    case "year": return utc(d.getUTCFullYear(), 0);
  }
}

function addBuckets(t: number, size: BucketSize, n: number): number {
  const d = new Date(t);
  switch (size) {
    case "hour": return t + n * HOUR_MS;
    case "day": return t + n * 24 * HOUR_MS;
    case "week": return t + n * 7 * 24 * HOUR_MS;
    case "month": return utc(d.getUTCFullYear(), d.getUTCMonth() + n);
    case "year": return utc(d.getUTCFullYear() + n, 0);
  }
}

interface BillingQuery {
  startTime?: string;
  endTime?: string;
  bucketSize?: BucketSize;
  lastN?: number;
  podId?: string;
  serverlessId?: string;
  networkVolumeId?: string;
}

interface Window { start: number; end: number; bucketSize: BucketSize }

function resolveWindow(q: BillingQuery, now: number): Window | string {
  const size = q.bucketSize ?? "day";
  if (q.lastN !== undefined) {
    if (q.startTime !== undefined || q.endTime !== undefined) return "lastN: cannot be combined with startTime/endTime; provide one or the other";
    const currentStart = floorBucket(now, size);
    const wanted = addBuckets(currentStart, size, -(q.lastN - 1));
    const start = Number.isFinite(wanted) && wanted >= EARLIEST ? wanted : floorBucket(EARLIEST, size);
    return { start, end: addBuckets(currentStart, size, 1), bucketSize: size };
  }
  const rawStart = q.startTime !== undefined ? Date.parse(q.startTime) : now - 30 * 24 * HOUR_MS;
  const rawEnd = q.endTime !== undefined ? Date.parse(q.endTime) : now;
  if (!(rawEnd > rawStart)) return `endTime: ${q.endTime ?? "now"} must be after startTime ${q.startTime ?? "(30 days ago)"}`;
  const start = floorBucket(rawStart, size);
  const endFloor = floorBucket(rawEnd, size);
  const end = endFloor === rawEnd ? rawEnd : addBuckets(endFloor, size, 1);
  // The bucket after 9999-12-31 is no date-time: the window ends at the last one there is.
  return { start, end: Number.isNaN(new Date(end).getTime()) ? rawEnd : end, bucketSize: size };
}

const KINDS = {
  serverless: { ledger: "serverless", idField: "serverlessId", uniqueField: "uniqueServerlessCount", amounts: ["gpuAmount", "cpuAmount", "diskAmount", "feeAmount"] },
  pods: { ledger: "pods", idField: "podId", uniqueField: "uniquePodCount", amounts: ["gpuAmount", "cpuAmount", "diskAmount"] },
  "network-volumes": { ledger: "volumes", idField: "networkVolumeId", uniqueField: "uniqueNetworkVolumeCount", amounts: ["standardAmount", "highPerformanceAmount"] },
} as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];

/** Amounts are rounded to 1/10 000 USD so sums stay exact enough to compare. */
const round = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * One record per resource per bucket it ran in. Each accrual is visited bucket by bucket over its own
 * stretch inside the window (an open one up to now): the loop is as long as what ran, whatever the window.
 */
function billingRecords(ledger: BillingLedger, kind: Kind, window: Window, filter: string | undefined, now: number) {
  const perBucket = new Map<number, Map<string, Record<string, number>>>();
  for (const accrual of ledger.accruals(kind.ledger)) {
    if (filter !== undefined && accrual.id !== filter) continue;
    addAccrual(perBucket, accrual, window, now);
  }
  const records: Record<string, unknown>[] = [];
  const totals: Record<string, number> = Object.fromEntries([["totalAmount", 0], ...kind.amounts.map((f) => [f, 0])]);
  const ids = new Set<string>();
  for (const from of [...perBucket.keys()].sort((a, b) => a - b)) {
    for (const [id, raw] of perBucket.get(from) ?? []) {
      ids.add(id);
      const amounts: Record<string, number> = {};
      let total = 0;
      for (const field of kind.amounts) {
        amounts[field] = round(raw[field] ?? 0);
        total += amounts[field];
        totals[field] = (totals[field] ?? 0) + amounts[field];
      }
      totals.totalAmount = (totals.totalAmount ?? 0) + total;
      records.push({
        startTime: new Date(from).toISOString(), endTime: new Date(addBuckets(from, window.bucketSize, 1)).toISOString(),
        totalAmount: round(total), ...amounts, [kind.idField]: id,
      });
    }
  }
  for (const key of Object.keys(totals)) totals[key] = round(totals[key] ?? 0);
  return {
    records,
    metadata: {
      query: { startTime: new Date(window.start).toISOString(), endTime: new Date(window.end).toISOString(), bucketSize: window.bucketSize, [kind.idField]: filter ?? null },
      recordCount: records.length,
      [kind.uniqueField]: ids.size,
      totals,
    },
  };
}

function addAccrual(perBucket: Map<number, Map<string, Record<string, number>>>, accrual: Accrual<string>, window: Window, now: number): void {
  // What has not run yet is not billed: an open interval accrues up to now.
  const from = Math.max(window.start, accrual.from);
  const to = Math.min(window.end, accrual.to ?? now, now);
  if (!(to > from)) return;
  for (let bucket = floorBucket(from, window.bucketSize); bucket < to; bucket = addBuckets(bucket, window.bucketSize, 1)) {
    const hours = (Math.min(to, addBuckets(bucket, window.bucketSize, 1)) - Math.max(from, bucket)) / HOUR_MS;
    if (hours <= 0) continue;
    const byId = perBucket.get(bucket) ?? new Map<string, Record<string, number>>();
    perBucket.set(bucket, byId);
    const amounts = byId.get(accrual.id) ?? {};
    byId.set(accrual.id, amounts);
    for (const [field, perHour] of Object.entries(accrual.perHour)) amounts[field] = (amounts[field] ?? 0) + (perHour ?? 0) * hours;
  }
}

export const billingRoutesPlugin: FastifyPluginAsync<RestV2Context> = async (api, { billing }) => {
  for (const [path, kind] of Object.entries(KINDS)) {
    api.get<{ Querystring: BillingQuery }>(`/v2/billing/${path}`, async (request, reply) => {
      const now = billing.now();
      const window = resolveWindow(request.query, now);
      if (typeof window === "string") return problem(reply, 400, window, [window]);
      return billingRecords(billing, kind, window, request.query[kind.idField], now);
    });
  }
};
