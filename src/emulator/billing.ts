// The emulator's billing: a ledger that accrues what the local RunPod ran (pods, network volumes, serverless
// worker seconds) at the cost model's prices, and `/v2/billing/{serverless,pods,network-volumes}` answering
// in the spec's shapes (ServerlessBillingRecord, PodBillingRecord, NetworkVolumeBillingRecord + metadata).
// Other areas report into the ledger: the REST v2 routes call trackPod/stopPod (pod create, start, stop,
// terminate, delete) and trackVolume/resizeVolume/deleteVolume; the job system calls recordWorkerSeconds
// when a worker (in-process or real SDK process) stops. Times are epoch milliseconds on the ledger's clock.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { HOURS_PER_MONTH, tablePrices, type GpuPool, type Prices } from "../infra/cost";
import type { StackConfig } from "../infra/config";

const HOUR_MS = 3_600_000;

export interface WorkerSecondsEvent {
  endpointId: string;
  /** The pool the worker ran in (its price); defaults to ADA_24. */
  gpuPool?: GpuPool;
  startedAt: number;
  stoppedAt: number;
  workerId?: string;
  jobs?: number;
}
export interface PodEvent {
  podId: string;
  vcpu: number;
  flavor: StackConfig["webCpuFlavor"];
  containerDiskGb: number;
  startedAt: number;
  stoppedAt?: number;
}
export interface VolumeEvent {
  networkVolumeId: string;
  sizeGb: number;
  type?: StackConfig["volumeType"];
  createdAt: number;
  deletedAt?: number;
}

/** Cost of one billable thing, as a rate per hour over an interval. */
interface Accrual<K extends string> {
  id: string;
  from: number;
  to?: number;
  /** USD per hour by amount field. */
  perHour: Partial<Record<K, number>>;
}

export class BillingLedger {
  private readonly serverless: Accrual<"gpuAmount">[] = [];
  // Every interval of each pod and volume is kept: a pod stopped and started again, or a volume resized,
  // bills each stretch at its own rate (the newest interval is the only one that may still be open).
  private readonly pods = new Map<string, Accrual<"cpuAmount" | "diskAmount">[]>();
  private readonly volumes = new Map<string, Accrual<"standardAmount" | "highPerformanceAmount">[]>();
  private readonly volumeTypes = new Map<string, VolumeEvent["type"]>();

  constructor(readonly prices: Prices = tablePrices(), readonly now: () => number = Date.now) {}

  recordWorkerSeconds(event: WorkerSecondsEvent): void {
    if (!(event.stoppedAt > event.startedAt)) return;
    const perSecond = this.prices.serverlessGpuUsdPerSecond[event.gpuPool ?? "ADA_24"] ?? 0;
    this.serverless.push({ id: event.endpointId, from: event.startedAt, to: event.stoppedAt, perHour: { gpuAmount: perSecond * 3600 } });
  }

  /** A pod runs from startedAt at this size; a still-open earlier interval of the same pod ends there. */
  trackPod(event: PodEvent): void {
    const cpu = event.vcpu * (this.prices.cpuUsdPerVcpuHour[event.flavor] ?? 0);
    const disk = (event.containerDiskGb * this.prices.containerDiskUsdPerGbMonth) / HOURS_PER_MONTH;
    append(this.pods, { id: event.podId, from: event.startedAt, to: event.stoppedAt, perHour: { cpuAmount: cpu, diskAmount: disk } });
  }

  stopPod(podId: string, at: number = this.now()): void {
    closeLast(this.pods.get(podId), at);
  }

  /** A volume exists from createdAt at this size; a still-open earlier interval of the same volume ends there. */
  trackVolume(event: VolumeEvent): void {
    const hp = event.type === "HIGH_PERFORMANCE";
    const v = this.prices.volumeUsdPerGbMonth;
    const monthly = hp ? event.sizeGb * v.highPerformance
      : Math.min(event.sizeGb, 1000) * v.standardFirstTb + Math.max(event.sizeGb - 1000, 0) * v.standardBeyondTb;
    this.volumeTypes.set(event.networkVolumeId, event.type);
    append(this.volumes, {
      id: event.networkVolumeId, from: event.createdAt, to: event.deletedAt,
      perHour: hp ? { highPerformanceAmount: monthly / HOURS_PER_MONTH } : { standardAmount: monthly / HOURS_PER_MONTH },
    });
  }

  /** The volume's new size bills from `at` on (storage can only grow, so the rate never drops). Unknown or deleted: ignored. */
  resizeVolume(networkVolumeId: string, sizeGb: number, at: number = this.now()): void {
    const open = this.volumes.get(networkVolumeId)?.at(-1);
    if (open === undefined || open.to !== undefined) return;
    this.trackVolume({ networkVolumeId, sizeGb, type: this.volumeTypes.get(networkVolumeId), createdAt: at });
  }

  deleteVolume(networkVolumeId: string, at: number = this.now()): void {
    closeLast(this.volumes.get(networkVolumeId), at);
  }

  /** @internal used by the routes and tests: every interval, oldest first per id. */
  accruals(kind: "serverless" | "pods" | "volumes"): Accrual<string>[] {
    if (kind === "serverless") return this.serverless;
    return [...(kind === "pods" ? this.pods : this.volumes).values()].flat();
  }
}

function closeLast(list: Accrual<string>[] | undefined, at: number): void {
  const last = list?.at(-1);
  if (last && last.to === undefined) last.to = Math.max(at, last.from);
}

function append<K extends string>(byId: Map<string, Accrual<K>[]>, accrual: Accrual<K>): void {
  const list = byId.get(accrual.id) ?? [];
  closeLast(list, accrual.from);
  list.push(accrual);
  byId.set(accrual.id, list);
}

// ---- query handling (spec: BillingStartTime, BillingEndTime, BillingBucketSize, BillingLastN) ----

export const BUCKET_SIZES = ["hour", "day", "week", "month", "year"] as const;
type BucketSize = (typeof BUCKET_SIZES)[number];

function floorBucket(t: number, size: BucketSize): number {
  const d = new Date(t);
  switch (size) {
    case "hour": return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
    case "day": return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case "week": { // ISO weeks start on Monday
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return day - ((d.getUTCDay() + 6) % 7) * 24 * HOUR_MS;
    }
    case "month": return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case "year": return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}

function addBuckets(t: number, size: BucketSize, n: number): number {
  const d = new Date(t);
  switch (size) {
    case "hour": return t + n * HOUR_MS;
    case "day": return t + n * 24 * HOUR_MS;
    case "week": return t + n * 7 * 24 * HOUR_MS;
    case "month": return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
    case "year": return Date.UTC(d.getUTCFullYear() + n, 0, 1);
  }
}

const rfc3339 = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an RFC 3339 date-time such as 2026-06-01T00:00:00Z");
const querySchema = z.object({
  startTime: rfc3339.optional(),
  endTime: rfc3339.optional(),
  bucketSize: z.enum(BUCKET_SIZES, { errorMap: () => ({ message: `must be one of ${BUCKET_SIZES.join(", ")}` }) }).default("day"),
  lastN: z.coerce.number().int("must be a whole number of at least 1").min(1, "must be a whole number of at least 1").optional(),
  podId: z.string().optional(),
  serverlessId: z.string().optional(),
  networkVolumeId: z.string().optional(),
}).strict();

interface Window { start: number; end: number; bucketSize: BucketSize }

function resolveWindow(q: z.infer<typeof querySchema>, now: number): Window | string {
  const size = q.bucketSize;
  if (q.lastN !== undefined) {
    if (q.startTime || q.endTime) return "lastN: cannot be combined with startTime/endTime; provide one or the other";
    const currentStart = floorBucket(now, size);
    return { start: addBuckets(currentStart, size, -(q.lastN - 1)), end: addBuckets(currentStart, size, 1), bucketSize: size };
  }
  const rawStart = q.startTime ? Date.parse(q.startTime) : now - 30 * 24 * HOUR_MS;
  const rawEnd = q.endTime ? Date.parse(q.endTime) : now;
  if (!(rawEnd > rawStart)) return `endTime: ${q.endTime ?? "now"} must be after startTime ${q.startTime ?? "(30 days ago)"}`;
  const start = floorBucket(rawStart, size);
  const endFloor = floorBucket(rawEnd, size);
  return { start, end: endFloor === rawEnd ? rawEnd : addBuckets(endFloor, size, 1), bucketSize: size };
}

const AMOUNT_FIELDS = {
  serverless: ["gpuAmount", "cpuAmount", "diskAmount", "feeAmount"],
  pods: ["gpuAmount", "cpuAmount", "diskAmount"],
  volumes: ["standardAmount", "highPerformanceAmount"],
} as const;
const ID_FIELD = { serverless: "serverlessId", pods: "podId", volumes: "networkVolumeId" } as const;
const UNIQUE_FIELD = { serverless: "uniqueServerlessCount", pods: "uniquePodCount", volumes: "uniqueNetworkVolumeCount" } as const;

/** Cents are what RunPod bills in; amounts are rounded to 1/10 000 USD so sums stay exact enough to compare. */
const round = (n: number) => Math.round(n * 10_000) / 10_000;

function buildResponse(ledger: BillingLedger, kind: keyof typeof AMOUNT_FIELDS, window: Window, filter: string | undefined, now: number) {
  const fields = AMOUNT_FIELDS[kind];
  const idField = ID_FIELD[kind];
  const records: Record<string, unknown>[] = [];
  const totals: Record<string, number> = Object.fromEntries([["totalAmount", 0], ...fields.map((f) => [f, 0])]);
  const ids = new Set<string>();
  const accruals = ledger.accruals(kind).filter((a) => filter === undefined || a.id === filter);
  const byId = new Map<string, Accrual<string>[]>();
  for (const a of accruals) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);

  for (let from = window.start; from < window.end; from = addBuckets(from, window.bucketSize, 1)) {
    const to = addBuckets(from, window.bucketSize, 1);
    for (const [id, list] of byId) {
      const amounts: Record<string, number> = Object.fromEntries(fields.map((f) => [f, 0]));
      let overlaps = false;
      for (const a of list) {
        // What has not run yet is not billed: an open interval accrues up to now.
        const hours = (Math.min(to, a.to ?? now, now) - Math.max(from, a.from)) / HOUR_MS;
        if (hours <= 0) continue;
        overlaps = true;
        for (const [field, perHour] of Object.entries(a.perHour)) amounts[field] = (amounts[field] ?? 0) + (perHour ?? 0) * hours;
      }
      if (!overlaps) continue;
      ids.add(id);
      let total = 0;
      for (const f of fields) { amounts[f] = round(amounts[f]!); total += amounts[f]!; totals[f]! += amounts[f]!; }
      totals.totalAmount! += total;
      records.push({ startTime: new Date(from).toISOString(), endTime: new Date(to).toISOString(), totalAmount: round(total), ...amounts, [idField]: id });
    }
  }
  for (const k of Object.keys(totals)) totals[k] = round(totals[k]!);
  return {
    records,
    metadata: {
      query: { startTime: new Date(window.start).toISOString(), endTime: new Date(window.end).toISOString(), bucketSize: window.bucketSize, [idField]: filter ?? null },
      recordCount: records.length,
      [UNIQUE_FIELD[kind]]: ids.size,
      totals,
    },
  };
}

function problem(reply: FastifyReply, status: number, title: string, detail: string, errors?: string[]) {
  return reply.code(status).type("application/problem+json").send({ title, status, detail, ...(errors ? { errors } : {}) });
}

export interface BillingPluginOptions {
  apiKey: string;
  ledger: BillingLedger;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The emulator's billing ledger: report pods, volumes and worker seconds into it. */
    billing: BillingLedger;
  }
}

const billingPluginImpl: FastifyPluginAsync<BillingPluginOptions> = async (app: FastifyInstance, options) => {
  app.decorate("billing", options.ledger);
  const routes = { serverless: "serverless", pods: "pods", "network-volumes": "volumes" } as const;
  for (const [path, kind] of Object.entries(routes)) {
    app.get(`/v2/billing/${path}`, async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return problem(reply, 401, "Unauthorized", "The Authorization header must carry a valid API key as `Bearer <key>`.");
      }
      const parsed = querySchema.safeParse(req.query);
      if (!parsed.success) {
        const errors = parsed.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`);
        return problem(reply, 400, "Bad Request", errors.join("; "), errors);
      }
      const q = parsed.data;
      const filterKey = ID_FIELD[kind];
      const otherFilters = Object.values(ID_FIELD).filter((f) => f !== filterKey && q[f] !== undefined);
      if (otherFilters.length > 0) {
        return problem(reply, 400, "Bad Request", `${otherFilters[0]}: not a filter of /v2/billing/${path} (allowed: ${filterKey})`);
      }
      const now = options.ledger.now();
      const window = resolveWindow(q, now);
      if (typeof window === "string") return problem(reply, 400, "Bad Request", window, [window]);
      return reply.send(buildResponse(options.ledger, kind, window, q[filterKey], now));
    });
  }
};

// Not encapsulated (what fastify-plugin does), so `app.billing` is visible to the other emulator areas.
(billingPluginImpl as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
export const billingPlugin = billingPluginImpl;
