// The policies called directly, with the stack config and prices injected.
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfigInput } from "../../src/infra/config";
import { estimateCost, tablePrices, type Prices } from "../../src/infra/cost";
import { classifyResource, createPolicies } from "../../src/infra/policy/policies";
import { stackConfigFromEnv } from "../../src/infra/policy/stack-config-from-env";

type Policy = StackValidationPolicy | ResourceValidationPolicy;

function policiesFor(config: Partial<Record<keyof StackConfigInput, string>>, prices: Prices = tablePrices()): Map<string, Policy> {
  const parsed = parseStackConfig(config);
  const list = createPolicies({ readConfig: () => parsed, loadPrices: async () => prices });
  return new Map(list.map((p) => [p.name, p]));
}

/** Live-catalog-like prices unlike the table's, so a figure in a message can only come from the prices given. */
function catalogPrices(): Prices {
  const table = tablePrices();
  const cpu = Object.fromEntries(Object.keys(table.cpuUsdPerVcpuHour).map((f) => [f, 0.0537]));
  const gpu = Object.fromEntries(Object.keys(table.serverlessGpuUsdPerSecond).map((p) => [p, 0.000417]));
  return { ...table, source: "catalog", asOf: "2026-11-30T12:00:00.000Z", cpuUsdPerVcpuHour: cpu, serverlessGpuUsdPerSecond: gpu };
}

const usd = (n: number) => `$${n.toFixed(2)}`;

async function stackViolations(policy: Policy | undefined): Promise<string[]> {
  const found: string[] = [];
  const validate = (policy as StackValidationPolicy).validateStack as (args: unknown, report: (m: string) => void) => unknown;
  await validate({ resources: [], getConfig: () => ({}) }, (m) => found.push(m));
  return found;
}

function resource(type: string, name: string, props: Record<string, unknown>, protect = false): PolicyResource {
  return { type, name, urn: `urn:pulumi:prod::metahuman::${type}::${name}`, props, opts: { protect, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] }, dependencies: [], propertyDependencies: {}, isType: () => false, asType: () => undefined } as unknown as PolicyResource;
}

async function resourceViolations(policy: Policy | undefined, r: PolicyResource): Promise<string[]> {
  const found: string[] = [];
  const validate = (policy as ResourceValidationPolicy).validateResource as (args: unknown, report: (m: string) => void) => unknown;
  await validate({ ...r, getConfig: () => ({}), notApplicable: () => { throw new Error("n/a"); } }, (m) => found.push(m));
  return found;
}

// Budgets are stated in every test: the seed's base ($122.30) fits $130 and not $40.
const fits = { budgetMonthlyUsd: "130" };

describe("mandatory policies", () => {
  it("the seed's choices (4 vCPU web pod) over a $40 budget fail the base-cost policy, naming the figure and the budget", async () => {
    const [message, ...rest] = await stackViolations(policiesFor({ budgetMonthlyUsd: "40" }).get("base-cost-under-budget"));
    expect(rest).toEqual([]);
    // A worked example on the dated table: 50 GB × $0.07 + 4 vCPU × $0.04/h × 730 h + 20 GB × $0.10 = $122.30.
    expect(message).toContain("base cost $122.30/month");
    expect(message).toContain("web pod $116.80 (4 vCPU cpu3g × $0.04/h × 730 h)");
    expect(message).toContain("over the budget of $40.00/month (metahuman:budgetMonthlyUsd)");
    expect(message).toContain("table prices of 2026-05-13");
  });

  it("states the cost model's base with the prices it was given (live catalog prices, not the table)", async () => {
    const prices = catalogPrices();
    const config = parseStackConfig({ budgetMonthlyUsd: "40" });
    const { base } = estimateCost(config, prices);
    const [message] = await stackViolations(policiesFor({ budgetMonthlyUsd: "40" }, prices).get("base-cost-under-budget"));
    const total = base.volume.usdPerMonth + base.webPod.usdPerMonth + base.containerDisk.usdPerMonth;
    expect(message).toContain(`base cost ${usd(total)}/month`);
    expect(message).toContain(`web pod ${usd(base.webPod.usdPerMonth)} (${config.webVcpu} vCPU ${config.webCpuFlavor} × $0.0537/h × ${base.webPod.hoursPerMonth} h)`);
    expect(base.webPod.usdPerMonth).toBeCloseTo(config.webVcpu * 0.0537 * base.webPod.hoursPerMonth, 6);
    expect(message).toContain("catalog prices of 2026-11-30T12:00:00.000Z");
    expect(message).not.toContain("$122.30");
  });

  it("passes when the budget covers the base", async () => {
    expect(await stackViolations(policiesFor(fits).get("base-cost-under-budget"))).toEqual([]);
  });

  it("warm workers are refused unless the budget pays for them", async () => {
    const over = await stackViolations(policiesFor({ ...fits, workersMin: "1" }).get("warm-workers-within-budget"));
    expect(over).toHaveLength(1);
    expect(over[0]).toContain("metahuman:workersMin = 1 bills 1 warm ADA_24 worker(s) 24/7: $814.68/month");
    expect(over[0]).toContain("making the base $936.98/month, over the budget of $130.00/month");
    expect(await stackViolations(policiesFor({ budgetMonthlyUsd: "1000", workersMin: "1" }).get("warm-workers-within-budget"))).toEqual([]);
    expect(await stackViolations(policiesFor(fits).get("warm-workers-within-budget"))).toEqual([]);
  });

  it("prices warm workers with the GPU rate it was given, as the cost model does", async () => {
    const prices = catalogPrices();
    const config = parseStackConfig({ ...fits, workersMin: "1" });
    const estimate = estimateCost(config, prices);
    const [message] = await stackViolations(policiesFor({ ...fits, workersMin: "1" }, prices).get("warm-workers-within-budget"));
    expect(estimate.base.warmWorkers.gpuUsdPerSecond).toBe(0.000417);
    expect(message).toContain(`24/7: ${usd(estimate.base.warmWorkers.usdPerMonth)}/month (1 × $0.000417/s × ${estimate.base.warmWorkers.secondsPerMonth} s)`);
    expect(message).toContain(`making the base ${usd(estimate.baseMonthlyUsd)}/month`);
  });

  it("an endpoint without an execution timeout is refused; one with it passes; other resources are ignored", async () => {
    const policy = policiesFor(fits).get("execution-timeout-set");
    const type = "pulumi-nodejs:dynamic/runpod:ServerlessEndpoint";
    const missing = await resourceViolations(policy, resource(type, "prod-endpoint", { name: "x" }));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/endpoint prod-endpoint has no execution timeout \(timeout = null\).*metahuman:executionTimeoutMs/);
    expect(await resourceViolations(policy, resource(type, "prod-endpoint", { timeout: 600000 }))).toEqual([]);
    expect(await resourceViolations(policy, resource("pulumi-nodejs:dynamic:Resource", "prod-endpoint", { executionTimeoutMs: 0 }))).toHaveLength(1);
    expect(await resourceViolations(policy, resource("pulumi-nodejs:dynamic/runpod:Pod", "prod-web", {}))).toEqual([]);
  });

  it("the network volume must be protected", async () => {
    const policy = policiesFor(fits).get("network-volume-protected");
    const type = "pulumi-nodejs:dynamic/runpod:NetworkVolume";
    const [message] = await resourceViolations(policy, resource(type, "prod-volume", { size: 50 }, false));
    expect(message).toContain("network volume prod-volume is not protected");
    expect(await resourceViolations(policy, resource(type, "prod-volume", { size: 50 }, true))).toEqual([]);
  });
});

describe("advisory policies", () => {
  it("idle timeout over 60 s, with what the idle tail costs", async () => {
    const [message] = await stackViolations(policiesFor({ ...fits, idleTimeout: "120" }).get("idle-timeout-short"));
    // medium with idle 120 s ≥ 45 s pause: 5 sessions × 120 s = 600 s/day × 0.00031 × 730/24 = $5.66/month
    expect(message).toContain("metahuman:idleTimeout = 120 s");
    expect(message).toContain("($0.04 on ADA_24)");
    expect(message).toContain("idle tail is $5.66/month");
    expect(await stackViolations(policiesFor({ ...fits, idleTimeout: "60" }).get("idle-timeout-short"))).toEqual([]);
  });

  it("workersMax over 5", async () => {
    const [message] = await stackViolations(policiesFor({ ...fits, workersMax: "8" }).get("workers-max-small"));
    // 8 × 0.00031 × 3600 = $8.93/hour
    expect(message).toContain("metahuman:workersMax = 8: a burst can bill 8 workers at once ($8.93/hour on ADA_24)");
    expect(await stackViolations(policiesFor({ ...fits, workersMax: "5" }).get("workers-max-small"))).toEqual([]);
  });

  it("FlashBoot off, with the extra cost for the medium profile", async () => {
    const [message] = await stackViolations(policiesFor({ ...fits, flashboot: "false" }).get("flashboot-on"));
    // medium: 100 cold starts × (60 − 10) s = 5000 s/day × 0.00031 × 730/24 = $47.15/month
    expect(message).toContain("about $47.15/month more");
    expect(await stackViolations(policiesFor(fits).get("flashboot-on"))).toEqual([]);
  });

  it("levels are as the design says", () => {
    const levels = Object.fromEntries([...policiesFor(fits)].map(([n, p]) => [n, p.enforcementLevel]));
    expect(levels).toEqual({
      "base-cost-under-budget": "mandatory", "warm-workers-within-budget": "mandatory", "execution-timeout-set": "mandatory",
      "network-volume-protected": "mandatory", "idle-timeout-short": "advisory", "workers-max-small": "advisory", "flashboot-on": "advisory",
    });
  });
});

describe("reading the stack", () => {
  it("takes the metahuman: keys of PULUMI_CONFIG and drops secrets before parsing", () => {
    const config = stackConfigFromEnv({
      PULUMI_CONFIG: JSON.stringify({ "metahuman:budgetMonthlyUsd": "75", "metahuman:sessionSecret": "s3cret", "aws:region": "x" }),
    });
    expect(config.budgetMonthlyUsd).toBe(75);
    expect(JSON.stringify(config)).not.toContain("s3cret");
    expect(stackConfigFromEnv({})).toEqual(parseStackConfig({}));
  });

  it("classifies RunPod resources by type, then by the stack's child names", () => {
    expect(classifyResource({ type: "pulumi-nodejs:dynamic/runpod:NetworkVolume", name: "a" })).toBe("volume");
    expect(classifyResource({ type: "pulumi-nodejs:dynamic:Resource", name: "prod-endpoint" })).toBe("endpoint");
    expect(classifyResource({ type: "pulumi-nodejs:dynamic:Resource", name: "prod-web" })).toBe("pod");
    expect(classifyResource({ type: "metahuman:stack:MetaHumanStack", name: "prod" })).toBeUndefined();
  });
});
