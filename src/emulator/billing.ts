// The emulator's billing ledger: it accrues what the local RunPod ran (pods, network volumes, serverless
// worker seconds) at the emulator's own catalog prices (catalog-data.ts), which is what RunPod bills with;
// `/v2/billing/*` (rest-v2/billing.ts) reads it back in the spec's shapes.
// Other areas report into the ledger: the REST v2 routes call trackPod/stopPod (pod create, start, stop,
// terminate, delete) and trackVolume/resizeVolume/deleteVolume; the job system calls recordWorkerSeconds
// when a worker (in-process or real SDK process) stops. Times are epoch milliseconds on the ledger's clock.
import { CATALOG_CPUS, CATALOG_GPUS, STORAGE_PRICES, type VolumeType } from "./catalog-data";

/** RunPod's month for per-month storage rates: 730 hours. */
const HOURS_PER_MONTH = 730;

/** What the ledger charges. */
export interface BillingRates {
  /** USD per second of one worker (one GPU), by pool. */
  serverlessGpuUsdPerSecond: Record<string, number>;
  /** USD per vCPU-hour of a secure-cloud CPU pod, by flavor. */
  cpuUsdPerVcpuHour: Record<string, number>;
  /** USD per GB-month: standard is tiered at 1 TB (1000 GB). */
  volumeUsdPerGbMonth: { standardFirstTb: number; standardBeyondTb: number; highPerformance: number };
  containerDiskUsdPerGbMonth: number;
}

/** The emulator's catalog as billing rates: a pool's serverless rate is its first GPU type's, per second. */
function catalogRates(): BillingRates {
  const serverlessGpuUsdPerSecond: Record<string, number> = {};
  for (const gpu of CATALOG_GPUS) serverlessGpuUsdPerSecond[gpu.pool] ??= gpu.price.serverless / 3600;
  return {
    serverlessGpuUsdPerSecond,
    cpuUsdPerVcpuHour: Object.fromEntries(CATALOG_CPUS.map((c) => [c.id, c.price.securePerVcpu])),
    volumeUsdPerGbMonth: { ...STORAGE_PRICES.volume },
    containerDiskUsdPerGbMonth: STORAGE_PRICES.containerDisk,
  };
}

export interface WorkerSecondsEvent {
  endpointId: string;
  /** The pool the worker ran in (its price); defaults to ADA_24. */
  gpuPool?: string;
  startedAt: number;
  stoppedAt: number;
  workerId?: string;
  jobs?: number;
}
export interface PodEvent {
  podId: string;
  vcpu: number;
  /** The CPU flavor (its price), e.g. cpu3g. */
  flavor: string;
  containerDiskGb: number;
  startedAt: number;
  stoppedAt?: number;
}
export interface VolumeEvent {
  networkVolumeId: string;
  sizeGb: number;
  type?: VolumeType;
  createdAt: number;
  deletedAt?: number;
}

/** Cost of one billable thing, as a rate per hour over an interval. */
export interface Accrual<K extends string> {
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

  constructor(readonly rates: BillingRates = catalogRates(), readonly now: () => number = Date.now) {}

  recordWorkerSeconds(event: WorkerSecondsEvent): void {
    if (!(event.stoppedAt > event.startedAt)) return;
    const perSecond = this.rates.serverlessGpuUsdPerSecond[event.gpuPool ?? "ADA_24"] ?? 0;
    this.serverless.push({ id: event.endpointId, from: event.startedAt, to: event.stoppedAt, perHour: { gpuAmount: perSecond * 3600 } });
  }

  /** A pod runs from startedAt at this size; a still-open earlier interval of the same pod ends there. */
  trackPod(event: PodEvent): void {
    const cpu = event.vcpu * (this.rates.cpuUsdPerVcpuHour[event.flavor] ?? 0);
    const disk = (event.containerDiskGb * this.rates.containerDiskUsdPerGbMonth) / HOURS_PER_MONTH;
    append(this.pods, { id: event.podId, from: event.startedAt, to: event.stoppedAt, perHour: { cpuAmount: cpu, diskAmount: disk } });
  }

  stopPod(podId: string, at: number = this.now()): void {
    closeLast(this.pods.get(podId), at);
  }

  /** A volume exists from createdAt at this size; a still-open earlier interval of the same volume ends there. */
  trackVolume(event: VolumeEvent): void {
    const hp = event.type === "HIGH_PERFORMANCE";
    const v = this.rates.volumeUsdPerGbMonth;
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

  /** Every interval, oldest first per id (what /v2/billing/* sums). */
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
