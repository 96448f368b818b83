// The cost arithmetic for the seed's stack and profiles, against figures computed by hand here.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../src/infra/config";
import { readStackFile } from "../../src/infra/cost/stack-file";
import {
  estimateCost, PLAN_CLAIMED_USD_PER_MONTH, REALISTIC_PROFILES as SEED_PROFILES, summarizeCost, tablePrices, type Prices, type UsageProfile,
} from "../../src/infra/cost";

// The seed's Pulumi.prod.yaml values (which are also the schema defaults).
const seed = parseStackConfig({});
const prices = tablePrices();
const DAYS = 730 / 24;

describe("estimateCost on the seed's config with the price table", () => {
  const estimate = estimateCost(seed, prices);

  it("base $/month = volume + web pod + container disk, each traceable", () => {
    // volume: 50 GB × $0.07 = $3.50; web pod: 4 vCPU × $0.04 × 730 h = $116.80; disk: 20 GB × $0.10 = $2.00
    expect(estimate.base.volume).toMatchObject({ sizeGb: 50, usdPerGbMonth: 0.07 });
    expect(estimate.base.volume.usdPerMonth).toBeCloseTo(3.5, 10);
    expect(estimate.base.webPod).toMatchObject({ flavor: "cpu3g", vcpu: 4, usdPerVcpuHour: 0.04, hoursPerMonth: 730 });
    expect(estimate.base.webPod.usdPerMonth).toBeCloseTo(116.8, 10);
    expect(estimate.base.containerDisk.usdPerMonth).toBeCloseTo(2.0, 10);
    expect(estimate.base.warmWorkers.usdPerMonth).toBe(0);
    expect(estimate.baseMonthlyUsd).toBeCloseTo(122.3, 10);
    expect(estimate.gpuPool).toBe("ADA_24");
    expect(estimate.gpuUsdPerSecond).toBe(0.00031);
    expect(estimate.priceSource).toMatchObject({ source: "table", asOf: "2026-05-13" });
  });

  it("light: 20 chats, 60 s apart > 5 s idle timeout, so every chat cold-starts (FlashBoot 10 s)", () => {
    // execution 20 × 6 = 120 s; cold 20 × 10 = 200 s; idle tail 20 × 5 = 100 s; total 420 s/day
    // $/day = 420 × 0.00031 = 0.1302; $/month = 0.1302 × 730/24 = 3.960250
    const light = estimate.profiles.light;
    expect(light.regime).toBe("per-chat");
    expect(light.coldStartsPerDay).toBe(20);
    expect(light.gpuSecondsPerDay).toEqual({ execution: 120, coldStart: 200, waiting: 0, idleTail: 100, total: 420 });
    expect(light.usdPerDay).toBeCloseTo(0.1302, 10);
    expect(light.usageMonthlyUsd).toBeCloseTo(3.96025, 6);
    expect(light.monthlyUsd).toBeCloseTo(122.3 + 3.96025, 6);
    expect(light.inputs).toMatchObject({ ...SEED_PROFILES.light, idleTimeoutSeconds: 5, flashboot: true, workersMin: 0 });
  });

  it("medium and heavy", () => {
    // medium: 100 chats × 3 calls × 3 s = 900 + 100 × 10 + 100 × 5 = 2400 s/day → $0.744/day → $22.63/month
    expect(estimate.profiles.medium.gpuSecondsPerDay.total).toBe(2400);
    expect(estimate.profiles.medium.usageMonthlyUsd).toBeCloseTo(0.744 * DAYS, 6);
    // heavy: 500 × 3 × 4 = 6000 + 500 × 10 + 500 × 5 = 13 500 s/day → $4.185/day
    expect(estimate.profiles.heavy.gpuSecondsPerDay.total).toBe(13_500);
    expect(estimate.profiles.heavy.usageMonthlyUsd).toBeCloseTo(4.185 * DAYS, 5);
  });

  it("MetaHuman OS's agents: every batch wakes a worker while nobody chats", () => {
    // 20 × 3 × 2 + 1860 × 2 = 3840 s of calls; (20 sessions' chats + 150 batches) × 10 s cold start; × 5 s idle tail
    const agents = estimate.profiles["light-agents"];
    expect(agents.gpuSecondsPerDay).toEqual({ execution: 3840, coldStart: 1700, waiting: 0, idleTail: 850, total: 6390 });
    expect(agents.coldStartsPerDay).toBe(170);
    expect(agents.usageMonthlyUsd).toBeGreaterThan(15 * estimate.profiles.light.usageMonthlyUsd);
  });

  it("is plain JSON (the lead exports it as a stack output)", () => {
    expect(JSON.parse(JSON.stringify(estimate))).toEqual(estimate);
  });
});

describe("estimateCost when settings change", () => {
  it("an idle timeout longer than the pause keeps the worker up for a session", () => {
    // light, idle 90 s ≥ 60 s pause: 2 sessions of 10 chats; cold 2 × 10 = 20 s; waiting 2 × 9 × 60 = 1080 s;
    // idle tail 2 × 90 = 180 s; execution 120 s; total 1400 s/day
    const estimate = estimateCost(parseStackConfig({ idleTimeout: "90" }), prices);
    const light = estimate.profiles.light;
    expect(light.regime).toBe("session");
    expect(light.coldStartsPerDay).toBe(2);
    expect(light.gpuSecondsPerDay).toEqual({ execution: 120, coldStart: 20, waiting: 1080, idleTail: 180, total: 1400 });
  });

  it("without FlashBoot a cold start costs the full 60 s", () => {
    // light: 120 + 20 × 60 + 100 = 1420 s/day
    const estimate = estimateCost(parseStackConfig({ flashboot: "false" }), prices);
    expect(estimate.profiles.light.gpuSecondsPerDay.total).toBe(1420);
  });

  it("a warm worker is billed 24/7 in the base and absorbs the chats", () => {
    // 1 × 0.00031 × 730 × 3600 = $814.68/month on top of $122.30
    const estimate = estimateCost(parseStackConfig({ workersMin: "1" }), prices);
    expect(estimate.base.warmWorkers.usdPerMonth).toBeCloseTo(814.68, 6);
    expect(estimate.baseMonthlyUsd).toBeCloseTo(936.98, 6);
    expect(estimate.profiles.heavy.regime).toBe("warm");
    expect(estimate.profiles.heavy.gpuSecondsPerDay.total).toBe(0);
    expect(estimate.profiles.heavy.monthlyUsd).toBeCloseTo(936.98, 6);
  });

  it("a big high-performance volume, an A100 pool and a smaller pod", () => {
    const estimate = estimateCost(parseStackConfig({
      volumeSizeGb: "1200", gpuPools: "AMPERE_80,ADA_24", webVcpu: "2", webCpuFlavor: "cpu3c",
    }), prices);
    // standard, tiered: 1000 × 0.07 + 200 × 0.05 = $80; pod 2 × 0.03 (cpu3c) × 730 = $43.80
    expect(estimate.base.volume.usdPerMonth).toBeCloseTo(80, 10);
    expect(estimate.base.webPod.usdPerMonth).toBeCloseTo(43.8, 10);
    expect(estimate.gpuUsdPerSecond).toBe(0.00076);
    expect(estimate.gpuUsdPerSecondByPool).toEqual({ AMPERE_80: 0.00076, ADA_24: 0.00031 });
  });

  it("takes a user's own profile and names a bad field", () => {
    const mine: UsageProfile = { ...SEED_PROFILES.light, chatsPerDay: 0 };
    const estimate = estimateCost(seed, prices, { mine });
    expect(estimate.profiles.mine.gpuSecondsPerDay.total).toBe(0);
    expect(estimate.profiles.mine.monthlyUsd).toBeCloseTo(122.3, 10);
    expect(() => estimateCost(seed, prices, { bad: { ...SEED_PROFILES.light, secondsPerCall: -1 } }))
      .toThrow(/usage profile "bad": secondsPerCall = -1: must be a positive number of seconds/);
  });
});

describe("CPU pod prices per flavor (dated table)", () => {
  it("each flavor's rate changes the base: cpu3c $0.03, cpu5c $0.035, cpu3g $0.04 per vCPU-hour", () => {
    const base = (flavor: string) => estimateCost(parseStackConfig({ webCpuFlavor: flavor }), prices).baseMonthlyUsd;
    // 4 vCPU × rate × 730 h + $3.50 volume + $2.00 disk
    expect(base("cpu3c")).toBeCloseTo(4 * 0.03 * 730 + 5.5, 6); // 93.10
    expect(base("cpu5c")).toBeCloseTo(4 * 0.035 * 730 + 5.5, 6); // 107.70
    expect(base("cpu3g")).toBeCloseTo(4 * 0.04 * 730 + 5.5, 6); // 122.30
    const cpu3c = estimateCost(parseStackConfig({ webCpuFlavor: "cpu3c" }), prices);
    expect(cpu3c.base.webPod.rateSource).toMatch(/^table: .*2026-11-30$/);
  });

  it("a flavor with no dated figure says it is assumed", () => {
    const estimate = estimateCost(parseStackConfig({ webCpuFlavor: "cpu5m" }), prices);
    expect(estimate.base.webPod.rateSource).toMatch(/assumed/);
    expect(estimate.priceSource.notes.join("\n")).toMatch(/cpu5m \$0\.04 \(assumed\)/);
  });
});

describe("web hours", () => {
  it("a 16-hour window bills the pod 16/24 of the month; disk and volume stay all month", () => {
    const estimate = estimateCost(parseStackConfig({ webCpuFlavor: "cpu3c", webVcpu: "2", webHours: "07:00-23:00 Europe/Berlin" }), prices);
    // 2 × 0.03 × 16 h × 730/24 days = $29.20; + $3.50 + $2.00
    expect(estimate.base.webPod.hoursPerDay).toBe(16);
    expect(estimate.base.webPod.usdPerMonth).toBeCloseTo(29.2, 6);
    expect(estimate.baseMonthlyUsd).toBeCloseTo(34.7, 6);
  });

  it("a window across midnight counts its hours on both sides", () => {
    const estimate = estimateCost(parseStackConfig({ webHours: "18:30-02:00 UTC" }), prices);
    expect(estimate.base.webPod.hoursPerDay).toBe(7.5);
  });
});

describe("the plan's own usage examples", () => {
  const estimate = estimateCost(seed, prices);

  it("are estimated as the plan states them: 10, 50, 200 chats a day of 30 s", () => {
    // plan-light: per chat 30 s + 10 s FlashBoot cold start + 5 s idle tail = 45 s; × 10 = 450 s/day
    // → 450 × 0.00031 = $0.1395/day → × 730/24 = $4.243125/month (the plan claims $12)
    const light = estimate.profiles["plan-light"];
    expect(light.gpuSecondsPerDay).toEqual({ execution: 300, coldStart: 100, waiting: 0, idleTail: 50, total: 450 });
    expect(light.usageMonthlyUsd).toBeCloseTo(4.243125, 6);
    // plan-heavy: 200 × 45 = 9000 s/day → $2.79/day → $84.8625/month (the plan claims $240)
    expect(estimate.profiles["plan-heavy"].usageMonthlyUsd).toBeCloseTo(84.8625, 6);
    expect(PLAN_CLAIMED_USD_PER_MONTH).toEqual({ "plan-light": 12, "plan-medium": 60, "plan-heavy": 240 });
  });

  it("stand beside the realistic profiles in the same estimate", () => {
    expect(Object.keys(estimate.profiles)).toEqual(["light", "medium", "heavy", "light-agents", "plan-light", "plan-medium", "plan-heavy"]);
  });
});

describe("summarizeCost (the preview's costEstimate)", () => {
  it("rounds what a person reads: rates from a catalog division, money to cents", () => {
    // A catalog rate of $1.116/h per GPU is 0.00031000000000000005 $/s in floating point.
    const catalog: Prices = { ...tablePrices(), source: "catalog", asOf: "2026-11-30T10:11:12.000Z",
      serverlessGpuUsdPerSecond: { ADA_24: 1.116 / 3600 }, cpuUsdPerVcpuHour: { cpu3c: 0.1 * 0.3 }, cpuRateSource: { cpu3c: "live catalog" } };
    expect(1.116 / 3600).not.toBe(0.00031);
    const summary = summarizeCost(estimateCost(parseStackConfig({ webCpuFlavor: "cpu3c", webVcpu: "2" }), catalog), 3);
    expect(summary.gpuUsdPerSecond).toBe(0.00031);
    expect(summary.webPod).toBe("2 vCPU cpu3c at $0.03/vCPU-h, always on");
    expect(summary.prices).toBe("catalog of 2026-11-30");
    expect(summary.webPodRate).toBe("live catalog");
    expect(summary.baseUsdPerMonth).toBe(49.3); // 2 × 0.03 × 730 + 3.50 + 2.00
    expect(JSON.stringify(summary)).not.toMatch(/\d\.\d{7,}/);
    expect(summary.planUsageUsdPerMonth.light).toEqual({ claimed: 12, estimated: 4.24 });
  });

  it("the documented right-sized configuration previews at most $30 a month, as docs/cost.md says", () => {
    const config = readStackFile("docs/examples/Pulumi.right-sized.yaml");
    const summary = summarizeCost(estimateCost(config, prices), config.workersMax);
    // 2 × $0.03 × 14 h × 730/24 = $25.55; volume $3.50; 5 GB disk $0.50
    expect(summary.baseUsdPerMonth).toBe(29.55);
    expect(summary.baseUsdPerMonth).toBeLessThanOrEqual(30);
    expect(summary.webPod).toBe("2 vCPU cpu3c at $0.03/vCPU-h, 08:00-22:00 Europe/Berlin (14 h/day)");
    expect(summary.budgetUsdPerMonth).toBe(30);
  });

  it("a flavor change moves baseUsdPerMonth", () => {
    const a = summarizeCost(estimateCost(parseStackConfig({ webCpuFlavor: "cpu3g" }), prices), 3);
    const b = summarizeCost(estimateCost(parseStackConfig({ webCpuFlavor: "cpu3c" }), prices), 3);
    expect(a.baseUsdPerMonth).toBe(122.3);
    expect(b.baseUsdPerMonth).toBe(93.1);
  });
});
