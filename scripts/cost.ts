// `npm run cost` — what the stack will cost, before you pay.
//   npm run cost                              estimate for Pulumi.prod.yaml, per usage profile
//   npm run cost -- --stack dev               Pulumi.dev.yaml
//   npm run cost -- --config path.yaml        any stack file
//   npm run cost -- --compare other.yaml      the change from the current config to another
//   npm run cost -- --chart out.svg           $/month against chats/day (current, and --compare's config)
//   npm run cost -- --profiles mine.json      your own usage profiles ({"name": {chatsPerDay, ...}})
//   npm run cost -- --actual --days 7         actual spend (GET /v2/billing/*) beside the estimate
//   npm run cost -- --json                    everything as JSON, for machines
//   --offline                                 use the dated price table even when RUNPOD_API_KEY is set
// Prices come from RunPod's live catalog when RUNPOD_API_KEY is set (RUNPOD_API_URL for the emulator).
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  compareActuals, estimateCost, loadActuals, loadPrices, DEFAULT_PROFILES, tablePrices, usageProfileSchema, type UsageProfile,
} from "../src/infra/cost";
import { diffEstimates, formatActuals, formatChange, formatEstimate, renderChartSvg } from "../src/infra/cost/report";
import { readStackFile } from "../src/infra/cost/stack-file";

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string", default: "prod" },
      config: { type: "string" },
      compare: { type: "string" },
      chart: { type: "string" },
      profiles: { type: "string" },
      actual: { type: "boolean", default: false },
      days: { type: "string", default: "7" },
      json: { type: "boolean", default: false },
      offline: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`usage: npm run cost -- [--stack prod | --config FILE] [--compare FILE] [--chart OUT.svg] [--profiles FILE.json] [--actual --days N] [--json] [--offline]\n`);
    return;
  }

  const currentFile = values.config ?? `Pulumi.${values.stack}.yaml`;
  const current = readStackFile(currentFile);
  const profiles = values.profiles ? readProfiles(values.profiles) : (DEFAULT_PROFILES as unknown as Record<string, UsageProfile>);
  const prices = values.offline ? tablePrices("--offline: the live catalog was not read.") : await loadPrices();
  const estimate = estimateCost(current, prices, profiles);
  const result: Record<string, unknown> = { file: currentFile, estimate };
  const text: string[] = [formatEstimate(estimate, `Cost estimate for ${currentFile}`)];

  let proposed: { file: string; config: ReturnType<typeof readStackFile>; estimate: typeof estimate } | undefined;
  if (values.compare) {
    const config = readStackFile(values.compare);
    proposed = { file: values.compare, config, estimate: estimateCost(config, prices, profiles) };
    const change = diffEstimates(current, config, estimate, proposed.estimate);
    result.compare = { file: values.compare, estimate: proposed.estimate, change };
    text.push("", formatChange(change, basename(currentFile), basename(values.compare)));
  }

  if (values.chart) {
    const series = [{ label: basename(currentFile), config: current, baseMonthlyUsd: estimate.baseMonthlyUsd, gpuUsdPerSecond: estimate.gpuUsdPerSecond, budgetMonthlyUsd: current.budgetMonthlyUsd }];
    if (proposed) {
      series.push({ label: basename(proposed.file), config: proposed.config, baseMonthlyUsd: proposed.estimate.baseMonthlyUsd, gpuUsdPerSecond: proposed.estimate.gpuUsdPerSecond, budgetMonthlyUsd: proposed.config.budgetMonthlyUsd });
    }
    writeFileSync(values.chart, renderChartSvg(series));
    result.chart = values.chart;
    text.push("", `Chart written to ${values.chart}`);
  }

  if (values.actual) {
    const days = Number(values.days);
    const actuals = await loadActuals({ days });
    const comparison = compareActuals(estimate, actuals);
    result.actual = { actuals, comparison };
    text.push("", formatActuals(comparison));
  }

  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${text.join("\n")}\n`);
}

function readProfiles(path: string): Record<string, UsageProfile> {
  const parsed = z.record(usageProfileSchema).safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${path}: profile ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`cost: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
