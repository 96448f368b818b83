// The cost arithmetic for the seed's stack and profiles, against figures computed by hand here.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../src/infra/config";
import { estimateCost, SEED_PROFILES, tablePrices, type UsageProfile } from "../../src/infra/cost";

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
    // medium: 800 + 100 × 10 + 100 × 5 = 2300 s/day → $0.713/day → $21.687083/month
    expect(estimate.profiles.medium.gpuSecondsPerDay.total).toBe(2300);
    expect(estimate.profiles.medium.usageMonthlyUsd).toBeCloseTo(0.713 * DAYS, 6);
    expect(estimate.profiles.medium.usageMonthlyUsd).toBeCloseTo(21.687083, 5);
    // heavy: 5000 + 500 × 10 + 500 × 5 = 12 500 s/day → $3.875/day → $117.864583/month
    expect(estimate.profiles.heavy.gpuSecondsPerDay.total).toBe(12_500);
    expect(estimate.profiles.heavy.usageMonthlyUsd).toBeCloseTo(117.864583, 5);
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
    // standard, tiered: 1000 × 0.07 + 200 × 0.05 = $80; pod 2 × 0.04 × 730 = $58.40
    expect(estimate.base.volume.usdPerMonth).toBeCloseTo(80, 10);
    expect(estimate.base.webPod.usdPerMonth).toBeCloseTo(58.4, 10);
    expect(estimate.gpuUsdPerSecond).toBe(0.00076);
    expect(estimate.gpuUsdPerSecondByPool).toEqual({ AMPERE_80: 0.00076, ADA_24: 0.00031 });
  });

  it("takes a user's own profile and names a bad field", () => {
    const mine: UsageProfile = { ...SEED_PROFILES.light, chatsPerDay: 0 };
    const estimate = estimateCost(seed, prices, { mine });
    expect(estimate.profiles.mine.gpuSecondsPerDay.total).toBe(0);
    expect(estimate.profiles.mine.monthlyUsd).toBeCloseTo(122.3, 10);
    expect(() => estimateCost(seed, prices, { bad: { ...SEED_PROFILES.light, secondsPerChat: -1 } }))
      .toThrow(/usage profile "bad": secondsPerChat = -1: must be a positive number of seconds/);
  });
});
