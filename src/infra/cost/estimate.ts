// The cost model. Pure and synchronous: config + prices (+ usage profiles) in, a JSON-serializable
// estimate out that carries every input of every formula, so a person can redo the arithmetic.
//
//   base $/month   = volume + web pod + container disk + warm workers
//     volume       = min(GB, 1000) × first-TB rate + max(GB − 1000, 0) × beyond-TB rate   (HIGH_PERFORMANCE: GB × its rate)
//     web pod      = vCPU × $/vCPU-hour × running hours a month (730 h, or webHours' hours a day × 730/24 days)
//     disk         = container disk GB × $/GB-month  (all month: a stopped pod keeps its disk)
//     warm workers = workersMin × GPU $/s × 730 × 3600 s          (a warm worker is billed around the clock)
//   usage, per profile, with workersMin = 0 (the endpoint scales to zero):
//     execution  = chats/day × seconds/chat ÷ concurrent chats per worker
//     if the pause between chats ≤ idle timeout, a worker stays up for a whole session:
//       cold starts = sessions/day;  waiting = sessions × (chats per session − 1) × pause;  idle tail = sessions × idle timeout
//     else every chat finds the worker gone:
//       cold starts = chats/day;     waiting = 0;                                         idle tail = chats × idle timeout
//     cold-start seconds = cold starts × (FlashBoot ? flashboot cold start : cold start)
//     GPU s/day = execution + cold-start seconds + waiting + idle tail;  $/day = GPU s/day × GPU $/s
//   with workersMin > 0 the warm workers serve the chats (no cold start, no idle tail, already paid in base);
//     only execution beyond workersMin × 86 400 s/day is billed on top.
//   $/month = $/day × 730/24 days;  profile total $/month = base + usage.
import { z } from "zod";
import type { StackConfig } from "../config";
import { parseWebHours } from "../../common/daily-window";
import type { GpuPool, Prices } from "./prices";

export const HOURS_PER_MONTH = 730;
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
export const SECONDS_PER_DAY = 86_400;

export const usageProfileSchema = z.object({
  /** Chats (one message, one reply) per day. */
  chatsPerDay: z.number().min(0, "must be 0 or more chats per day"),
  /** LLM calls (RunPod jobs) one chat makes, one after another: MetaHuman OS makes 3 (intent, reply, persona check). */
  callsPerChat: z.number().int("must be a whole number of calls").min(1, "must be at least 1 call").default(1),
  /** GPU execution seconds of one LLM call. */
  secondsPerCall: z.number().positive("must be a positive number of seconds"),
  /** LLM calls MetaHuman OS's background agents make per day while nobody chats (0 with agents off, the default). */
  agentCallsPerDay: z.number().min(0, "must be 0 or more calls per day").default(0),
  /** Separate batches those calls come in; each wakes a worker (a cold start and an idle tail). */
  agentBatchesPerDay: z.number().min(0, "must be 0 or more batches per day").default(0),
  /** Bursts of chatting per day; chats are spread evenly over them. */
  sessionsPerDay: z.number().positive("must be a positive number of sessions"),
  /** Pause between one reply and the next request within a session, in seconds. */
  secondsBetweenChats: z.number().min(0, "must be 0 or more seconds"),
  /** Average chats one worker serves at once (vLLM batches them); 1 for one person chatting. */
  concurrentChats: z.number().min(1, "must be at least 1"),
  /** Worker start plus model load without FlashBoot, in seconds (billed). */
  coldStartSeconds: z.number().min(0, "must be 0 or more seconds"),
  /** Worker start with FlashBoot, in seconds (billed). */
  flashbootColdStartSeconds: z.number().min(0, "must be 0 or more seconds"),
}).strict();

export type UsageProfile = z.input<typeof usageProfileSchema>;

/**
 * Our own light/medium/heavy profiles: MetaHuman OS's real shape, measured against the emulator: every chat is 3 LLM
 * calls (3 RunPod jobs, one after another: intent, reply, persona check), of 2 to 4 s of GPU each on an RTX 4090 with
 * a 7B AWQ model; chats in a few sessions a day; background agents off (the deployment's default). "light-agents" is
 * light with MetaHuman OS's default agents on: 22 calls in 17 idle minutes measured (about 1,860 a day), in batches
 * a few minutes apart (about 150 a day), each waking a worker. These are this project's figures, not the plan's.
 * Cold starts are for a 7B AWQ model loaded from the network volume (about a minute without FlashBoot; FlashBoot
 * restores a recent snapshot in seconds).
 */
export const REALISTIC_PROFILES = {
  light: { chatsPerDay: 20, callsPerChat: 3, secondsPerCall: 2, sessionsPerDay: 2, secondsBetweenChats: 60, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
  medium: { chatsPerDay: 100, callsPerChat: 3, secondsPerCall: 3, sessionsPerDay: 5, secondsBetweenChats: 45, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
  heavy: { chatsPerDay: 500, callsPerChat: 3, secondsPerCall: 4, sessionsPerDay: 10, secondsBetweenChats: 30, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
  "light-agents": { chatsPerDay: 20, callsPerChat: 3, secondsPerCall: 2, sessionsPerDay: 2, secondsBetweenChats: 60, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10, agentCallsPerDay: 1860, agentBatchesPerDay: 150 },
} as const satisfies Record<string, UsageProfile>;

/**
 * The plan's own usage examples as the plan states them: light 10 chats a day of 30 s, medium 50, heavy 200, one job
 * per chat (MetaHuman OS really makes 3; our profiles above use that).
 * The plan says nothing of sessions or pauses; here the chats come in the same sessions as our profiles, a minute
 * apart, so with a short idle timeout every chat pays its own cold start, as the plan's per-chat arithmetic implies.
 */
export const PLAN_PROFILES = {
  "plan-light": { chatsPerDay: 10, callsPerChat: 1, secondsPerCall: 30, sessionsPerDay: 2, secondsBetweenChats: 60, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
  "plan-medium": { chatsPerDay: 50, callsPerChat: 1, secondsPerCall: 30, sessionsPerDay: 5, secondsBetweenChats: 60, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
  "plan-heavy": { chatsPerDay: 200, callsPerChat: 1, secondsPerCall: 30, sessionsPerDay: 10, secondsBetweenChats: 60, concurrentChats: 1, coldStartSeconds: 60, flashbootColdStartSeconds: 10 },
} as const satisfies Record<string, UsageProfile>;

/** What the plan claims each of its examples costs a month (usage on top of "~$30/mo"). */
export const PLAN_CLAIMED_USD_PER_MONTH: Record<keyof typeof PLAN_PROFILES, number> = {
  "plan-light": 12, "plan-medium": 60, "plan-heavy": 240,
};

/** Both sets: what `npm run cost` and the preview estimate unless given other profiles. */
export const DEFAULT_PROFILES = { ...REALISTIC_PROFILES, ...PLAN_PROFILES };

/** @deprecated the name claimed these were the seed's figures; they are REALISTIC_PROFILES, our own. */
export const SEED_PROFILES = REALISTIC_PROFILES;

export type ProfileName = keyof typeof DEFAULT_PROFILES;
/** @deprecated see SEED_PROFILES. */
export type SeedProfileName = ProfileName;

export interface BaseCost {
  volume: { sizeGb: number; type: StackConfig["volumeType"]; usdPerGbMonth: number; beyondTbUsdPerGbMonth: number; usdPerMonth: number };
  webPod: {
    flavor: StackConfig["webCpuFlavor"]; vcpu: number; usdPerVcpuHour: number;
    /** Where the rate came from ("live catalog", or the table's source and date). */
    rateSource: string;
    /** metahuman:webHours as configured, and the running hours it gives a day and a month. */
    webHours: string; hoursPerDay: number; hoursPerMonth: number; usdPerMonth: number;
  };
  containerDisk: { sizeGb: number; usdPerGbMonth: number; usdPerMonth: number };
  warmWorkers: { count: number; gpuUsdPerSecond: number; secondsPerMonth: number; usdPerMonth: number };
}

export interface ProfileEstimate {
  /** The profile as given, plus the stack settings the formulas read. */
  inputs: UsageProfile & { idleTimeoutSeconds: number; flashboot: boolean; workersMin: number; gpuUsdPerSecond: number };
  /** "session": the worker stays up between chats of a session; "per-chat": it is gone by the next chat; "warm": workersMin > 0. */
  regime: "session" | "per-chat" | "warm";
  coldStartsPerDay: number;
  /** Billed GPU seconds per day, by reason. */
  gpuSecondsPerDay: { execution: number; coldStart: number; waiting: number; idleTail: number; total: number };
  usdPerDay: number;
  usageMonthlyUsd: number;
  /** base + usage */
  monthlyUsd: number;
}

export interface CostEstimate<P extends string = SeedProfileName> {
  priceSource: { source: Prices["source"]; asOf: string; notes: string[] };
  hoursPerMonth: number;
  daysPerMonth: number;
  base: BaseCost;
  /** What runs whether or not anyone chats, USD per month. */
  baseMonthlyUsd: number;
  budgetMonthlyUsd: number;
  /** The pool workers are estimated on: the first (preferred) pool of the config. */
  gpuPool: GpuPool;
  /** Rate per worker of that pool. */
  gpuUsdPerSecond: number;
  /** Rate of every pool the endpoint may use: a fallback to a dearer pool costs that much more. */
  gpuUsdPerSecondByPool: Partial<Record<GpuPool, number>>;
  profiles: Record<P, ProfileEstimate>;
}

export function estimateCost<P extends string = SeedProfileName>(
  config: StackConfig,
  prices: Prices,
  profiles: Record<P, UsageProfile> = DEFAULT_PROFILES as unknown as Record<P, UsageProfile>,
): CostEstimate<P> {
  const gpuPool = config.gpuPools[0] as GpuPool;
  const gpuUsdPerSecond = poolRate(prices, gpuPool);
  const base = baseCost(config, prices, gpuUsdPerSecond);
  const baseMonthlyUsd = base.volume.usdPerMonth + base.webPod.usdPerMonth + base.containerDisk.usdPerMonth + base.warmWorkers.usdPerMonth;

  const profileEstimates = {} as Record<P, ProfileEstimate>;
  for (const [name, raw] of Object.entries(profiles) as [P, UsageProfile][]) {
    const parsed = usageProfileSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".");
      throw new Error(`usage profile "${name}": ${field} = ${JSON.stringify((raw as Record<string, unknown>)[field])}: ${issue.message}`);
    }
    profileEstimates[name] = estimateUsage(config, gpuUsdPerSecond, baseMonthlyUsd, parsed.data);
  }

  return {
    priceSource: { source: prices.source, asOf: prices.asOf, notes: [...prices.notes] },
    hoursPerMonth: HOURS_PER_MONTH,
    daysPerMonth: DAYS_PER_MONTH,
    base,
    baseMonthlyUsd,
    budgetMonthlyUsd: config.budgetMonthlyUsd,
    gpuPool,
    gpuUsdPerSecond,
    gpuUsdPerSecondByPool: Object.fromEntries(config.gpuPools.map((p) => [p, poolRate(prices, p as GpuPool)])),
    profiles: profileEstimates,
  };
}

function poolRate(prices: Prices, pool: GpuPool): number {
  const rate = prices.serverlessGpuUsdPerSecond[pool];
  if (rate === undefined) throw new Error(`gpuPools: no serverless price for pool ${pool} (${prices.source} prices of ${prices.asOf})`);
  return rate;
}

function baseCost(config: StackConfig, prices: Prices, gpuUsdPerSecond: number): BaseCost {
  const gb = config.volumeSizeGb;
  const highPerformance = config.volumeType === "HIGH_PERFORMANCE";
  const firstRate = highPerformance ? prices.volumeUsdPerGbMonth.highPerformance : prices.volumeUsdPerGbMonth.standardFirstTb;
  const beyondRate = highPerformance ? prices.volumeUsdPerGbMonth.highPerformance : prices.volumeUsdPerGbMonth.standardBeyondTb;
  const volumeUsd = Math.min(gb, 1000) * firstRate + Math.max(gb - 1000, 0) * beyondRate;

  const usdPerVcpuHour = prices.cpuUsdPerVcpuHour[config.webCpuFlavor];
  if (usdPerVcpuHour === undefined) {
    throw new Error(`webCpuFlavor: no price for flavor ${config.webCpuFlavor} (${prices.source} prices of ${prices.asOf})`);
  }
  const secondsPerMonth = HOURS_PER_MONTH * 3600;
  const hoursPerDay = parseWebHours(config.webHours).hoursPerDay;
  const webHoursPerMonth = hoursPerDay * DAYS_PER_MONTH;
  return {
    volume: { sizeGb: gb, type: config.volumeType, usdPerGbMonth: firstRate, beyondTbUsdPerGbMonth: beyondRate, usdPerMonth: volumeUsd },
    webPod: {
      flavor: config.webCpuFlavor, vcpu: config.webVcpu, usdPerVcpuHour,
      rateSource: prices.cpuRateSource[config.webCpuFlavor] ?? prices.source,
      webHours: config.webHours, hoursPerDay, hoursPerMonth: webHoursPerMonth,
      usdPerMonth: config.webVcpu * usdPerVcpuHour * webHoursPerMonth,
    },
    containerDisk: {
      sizeGb: config.webContainerDiskGb, usdPerGbMonth: prices.containerDiskUsdPerGbMonth,
      usdPerMonth: config.webContainerDiskGb * prices.containerDiskUsdPerGbMonth,
    },
    warmWorkers: {
      count: config.workersMin, gpuUsdPerSecond, secondsPerMonth,
      usdPerMonth: config.workersMin * gpuUsdPerSecond * secondsPerMonth,
    },
  };
}

/** One profile's usage on one stack config (exported for charts that sweep chats per day). */
export function estimateUsage(
  config: Pick<StackConfig, "idleTimeout" | "flashboot" | "workersMin">,
  gpuUsdPerSecond: number,
  baseMonthlyUsd: number,
  given: UsageProfile,
): ProfileEstimate {
  const profile = usageProfileSchema.parse(given);
  const inputs = {
    ...profile, idleTimeoutSeconds: config.idleTimeout, flashboot: config.flashboot, workersMin: config.workersMin, gpuUsdPerSecond,
  };
  const secondsPerChat = profile.callsPerChat * profile.secondsPerCall;
  const agentExecution = profile.agentCallsPerDay * profile.secondsPerCall;
  const execution = (profile.chatsPerDay * secondsPerChat) / profile.concurrentChats + agentExecution;
  let regime: ProfileEstimate["regime"];
  let coldStartsPerDay = 0;
  let waiting = 0;
  let idleTail = 0;
  let billedExecution = execution;

  if (config.workersMin > 0) {
    regime = "warm";
    billedExecution = Math.max(0, execution - config.workersMin * SECONDS_PER_DAY);
  } else if (profile.chatsPerDay === 0) {
    regime = "per-chat";
  } else if (profile.secondsBetweenChats <= config.idleTimeout) {
    regime = "session";
    const sessions = Math.min(profile.sessionsPerDay, profile.chatsPerDay);
    const chatsPerSession = profile.chatsPerDay / sessions;
    coldStartsPerDay = sessions;
    waiting = sessions * (chatsPerSession - 1) * profile.secondsBetweenChats;
    idleTail = sessions * config.idleTimeout;
  } else {
    regime = "per-chat";
    coldStartsPerDay = profile.chatsPerDay;
    idleTail = profile.chatsPerDay * config.idleTimeout;
  }
  // Agents' batches come while nobody chats, far apart: each one a cold start and an idle tail (none with warm workers).
  if (config.workersMin === 0 && profile.agentBatchesPerDay > 0) {
    coldStartsPerDay += profile.agentBatchesPerDay;
    idleTail += profile.agentBatchesPerDay * config.idleTimeout;
  }
  const coldStart = coldStartsPerDay * (config.flashboot ? profile.flashbootColdStartSeconds : profile.coldStartSeconds);
  const total = billedExecution + coldStart + waiting + idleTail;
  const usdPerDay = total * gpuUsdPerSecond;
  const usageMonthlyUsd = usdPerDay * DAYS_PER_MONTH;
  return {
    inputs,
    regime,
    coldStartsPerDay,
    gpuSecondsPerDay: { execution: billedExecution, coldStart, waiting, idleTail, total },
    usdPerDay,
    usageMonthlyUsd,
    monthlyUsd: baseMonthlyUsd + usageMonthlyUsd,
  };
}
