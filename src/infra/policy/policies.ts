// The cost and safety policies, as plain objects so unit tests call validateStack/validateResource directly.
// Mandatory: the base cost fits the budget, warm workers only when the budget pays for them, every endpoint
// has an execution timeout, the network volume is protected. Advisory: long idle timeouts, many workers,
// FlashBoot off. Messages name the figure, the setting and the budget, so a failed preview says what to change.
import type { PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { CONFIG_NAMESPACE, type StackConfig } from "../config";
import { estimateCost, loadPrices, SEED_PROFILES, type CostEstimate, type Prices } from "../cost";
import { stackConfigFromEnv } from "./stack-config-from-env";

export interface PolicyContext {
  /** The stack's config (defaults: from PULUMI_CONFIG, as the CLI passes it). */
  readConfig(): StackConfig;
  /** Prices for the estimate (defaults: live catalog with RUNPOD_API_KEY, else the table). */
  loadPrices(): Promise<Prices>;
}

export const defaultPolicyContext: PolicyContext = {
  readConfig: () => stackConfigFromEnv(),
  loadPrices: () => loadPrices(),
};

export const ADVISORY_IDLE_TIMEOUT_S = 60;
export const ADVISORY_WORKERS_MAX = 5;

export type RunPodResourceKind = "volume" | "endpoint" | "pod";

/**
 * Which RunPod resource a policy resource is. Dynamic resources have types like
 * `pulumi-nodejs:dynamic/runpod:ServerlessEndpoint` (or plain `pulumi-nodejs:dynamic:Resource`), so the type's
 * last part is read first and the stack's child names (`<stack>-volume|-endpoint|-web`) second.
 */
export function classifyResource(resource: Pick<PolicyResource, "type" | "name">): RunPodResourceKind | undefined {
  const typeName = resource.type.split(":").pop() ?? "";
  if (/volume/i.test(typeName)) return "volume";
  if (/endpoint|serverless/i.test(typeName)) return "endpoint";
  if (/pod$/i.test(typeName)) return "pod";
  if (!resource.type.startsWith("pulumi-nodejs:dynamic")) return undefined;
  if (/volume$/i.test(resource.name)) return "volume";
  if (/endpoint$/i.test(resource.name)) return "endpoint";
  if (/(web|pod)$/i.test(resource.name)) return "pod";
  return undefined;
}

const usd = (n: number) => `$${n.toFixed(2)}`;
const key = (name: keyof StackConfig) => `${CONFIG_NAMESPACE}:${name}`;

function priceLabel(estimate: CostEstimate): string {
  return `${estimate.priceSource.source} prices of ${estimate.priceSource.asOf}`;
}

/** Base cost without warm workers: what the stack costs idle, item by item, as a policy message shows it. */
function describeFixedBase(estimate: CostEstimate): { total: number; text: string } {
  const { volume, webPod, containerDisk } = estimate.base;
  const total = volume.usdPerMonth + webPod.usdPerMonth + containerDisk.usdPerMonth;
  const text = `volume ${usd(volume.usdPerMonth)} (${volume.sizeGb} GB × ${usd(volume.usdPerGbMonth)}) + web pod ${usd(webPod.usdPerMonth)}`
    + ` (${webPod.vcpu} vCPU ${webPod.flavor} × $${webPod.usdPerVcpuHour}/h × ${webPod.hoursPerMonth} h) + container disk ${usd(containerDisk.usdPerMonth)}`;
  return { total, text };
}

export function createPolicies(context: PolicyContext = defaultPolicyContext): (StackValidationPolicy | ResourceValidationPolicy)[] {
  const estimate = async () => estimateCost(context.readConfig(), await context.loadPrices());

  const baseCostUnderBudget: StackValidationPolicy = {
    name: "base-cost-under-budget",
    description: "What the stack costs with nobody chatting (volume + web pod + container disk) fits metahuman:budgetMonthlyUsd.",
    enforcementLevel: "mandatory",
    validateStack: async (_args, reportViolation) => {
      const e = await estimate();
      const base = describeFixedBase(e);
      if (base.total > e.budgetMonthlyUsd) {
        reportViolation(`base cost ${usd(base.total)}/month = ${base.text} is over the budget of ${usd(e.budgetMonthlyUsd)}/month`
          + ` (${key("budgetMonthlyUsd")}); ${priceLabel(e)}. Lower ${key("webVcpu")} or ${key("volumeSizeGb")}, or raise the budget.`);
      }
    },
  };

  const warmWorkersWithinBudget: StackValidationPolicy = {
    name: "warm-workers-within-budget",
    description: "workersMin stays 0 unless the budget pays for warm workers billed 24/7.",
    enforcementLevel: "mandatory",
    validateStack: async (_args, reportViolation) => {
      const e = await estimate();
      const warm = e.base.warmWorkers;
      if (warm.count > 0 && e.baseMonthlyUsd > e.budgetMonthlyUsd) {
        reportViolation(`${key("workersMin")} = ${warm.count} bills ${warm.count} warm ${e.gpuPool} worker(s) 24/7: ${usd(warm.usdPerMonth)}/month`
          + ` (${warm.count} × $${warm.gpuUsdPerSecond}/s × ${warm.secondsPerMonth} s), making the base ${usd(e.baseMonthlyUsd)}/month,`
          + ` over the budget of ${usd(e.budgetMonthlyUsd)}/month (${key("budgetMonthlyUsd")}); ${priceLabel(e)}.`
          + ` Set ${key("workersMin")} to 0 or raise the budget.`);
      }
    },
  };

  const executionTimeoutSet: ResourceValidationPolicy = {
    name: "execution-timeout-set",
    description: "Every serverless endpoint has a per-job execution timeout, so a runaway job cannot bill for hours.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
      if (classifyResource(args) !== "endpoint") return;
      const props = args.props as Record<string, unknown>;
      const timeout = [props.timeout, props.executionTimeoutMs, props.executionTimeout].find((v) => v !== undefined && v !== null);
      if (typeof timeout !== "number" || !(timeout > 0)) {
        reportViolation(`endpoint ${args.name} has no execution timeout (timeout = ${JSON.stringify(timeout ?? null)}): a stuck job`
          + ` bills until RunPod's default cuts it. Set ${key("executionTimeoutMs")} (5000 to 86400000 ms).`);
      }
    },
  };

  const networkVolumeProtected: ResourceValidationPolicy = {
    name: "network-volume-protected",
    description: "The network volume (the twin's memory) is protected from deletion.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
      if (classifyResource(args) !== "volume") return;
      if (!args.opts.protect) {
        reportViolation(`network volume ${args.name} is not protected: a replace or destroy would delete the persona and memory on it.`
          + " Declare it with { protect: true } (destroy the rest with `pulumi destroy --exclude-protected`).");
      }
    },
  };

  const idleTimeoutShort: StackValidationPolicy = {
    name: "idle-timeout-short",
    description: `An idle timeout over ${ADVISORY_IDLE_TIMEOUT_S} s bills a worker that waits for chats that may not come.`,
    enforcementLevel: "advisory",
    validateStack: async (_args, reportViolation: ReportViolation) => {
      const e = await estimate();
      const idle = e.profiles.medium.inputs.idleTimeoutSeconds;
      if (idle > ADVISORY_IDLE_TIMEOUT_S) {
        reportViolation(`${key("idleTimeout")} = ${idle} s: each burst of chats ends with ${idle} s of billed idle GPU`
          + ` (${usd(idle * e.gpuUsdPerSecond)} on ${e.gpuPool}); the medium profile's idle tail is`
          + ` ${usd(e.profiles.medium.gpuSecondsPerDay.idleTail * e.gpuUsdPerSecond * e.daysPerMonth)}/month. Advised: at most ${ADVISORY_IDLE_TIMEOUT_S} s.`);
      }
    },
  };

  const workersMaxSmall: StackValidationPolicy = {
    name: "workers-max-small",
    description: `More than ${ADVISORY_WORKERS_MAX} workers is more than one person's twin needs and multiplies a burst's cost.`,
    enforcementLevel: "advisory",
    validateStack: async (_args, reportViolation) => {
      const config = context.readConfig();
      if (config.workersMax > ADVISORY_WORKERS_MAX) {
        const e = await estimate();
        reportViolation(`${key("workersMax")} = ${config.workersMax}: a burst can bill ${config.workersMax} workers at once`
          + ` (${usd(config.workersMax * e.gpuUsdPerSecond * 3600)}/hour on ${e.gpuPool}). Advised: at most ${ADVISORY_WORKERS_MAX}.`);
      }
    },
  };

  const flashbootOn: StackValidationPolicy = {
    name: "flashboot-on",
    description: "FlashBoot shortens billed cold starts.",
    enforcementLevel: "advisory",
    validateStack: async (_args, reportViolation) => {
      const config = context.readConfig();
      if (!config.flashboot) {
        const prices = await context.loadPrices();
        const off = estimateCost(config, prices);
        const on = estimateCost({ ...config, flashboot: true }, prices);
        const extra = off.profiles.medium.usageMonthlyUsd - on.profiles.medium.usageMonthlyUsd;
        reportViolation(`${key("flashboot")} = false: every cold start bills ${SEED_PROFILES.medium.coldStartSeconds} s instead of`
          + ` ${SEED_PROFILES.medium.flashbootColdStartSeconds} s, about ${usd(extra)}/month more for the medium profile.`);
      }
    },
  };

  return [baseCostUnderBudget, warmWorkersWithinBudget, executionTimeoutSet, networkVolumeProtected, idleTimeoutShort, workersMaxSmall, flashbootOn];
}
