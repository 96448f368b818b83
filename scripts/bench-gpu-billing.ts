// Billed versus useful GPU time, per usage profile: the plan's light/medium/heavy examples run time-compressed
// against the emulator with real RunPod SDK worker processes (handler/handler.py, echo engine paced like a model),
// billed by the emulator's ledger (a worker bills from its start to its stop, as on RunPod). For each profile:
// useful = the jobs' executionTime, billed = the workers' lifetimes; the cost model (estimateUsage) predicts the same
// ratio from the measured chat and cold-start times and the idle timeout. A departure over 10 % is a defect in one
// of the two (the model or the emulator's billing) and is flagged.
//
//   npx tsx scripts/bench-gpu-billing.ts [--compression 0.05] [--chats 3] [--json]
//
// Time compression c: a 30 s chat becomes 30·c s of echo output, the 5 s idle timeout 5·c s, the 60 s pause between
// chats 60·c s. Cold starts are the real start of a Python SDK worker (not compressed): the model is given the
// measured one. Bounded: at most --chats chats per profile (the ratio of a profile is per chat in its regime).
// Wiring into `npm run bench`: import { runGpuBillingBench } and put its result under `gpuBilling` in the JSON.
import { parseArgs } from "node:util";
import type { AddressInfo } from "node:net";
import { BillingLedger } from "../src/emulator/billing";
import { buildEmulator } from "../src/emulator/emulator";
import type { JobEndpoint } from "../src/emulator/job-store";
import { estimateUsage, PLAN_PROFILES, type UsageProfile } from "../src/infra/cost";
import { RunpodServerlessClient } from "../src/runpod/serverless";

const KEY = "bench-gpu-billing-key";
const WORDS = 20;
const IDLE_TIMEOUT_S = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ProfileRatio {
  chats: number;
  /** In model seconds (compressed seconds ÷ c). */
  usefulSeconds: number;
  billedSeconds: number;
  meanExecutionSeconds: number;
  meanColdStartSeconds: number;
  measuredRatio: number;
  predictedRatio: number;
  /** measured ÷ predicted − 1 */
  departure: number;
  costPerChatUsd: { measured: number; predicted: number };
  defect: boolean;
}

export interface GpuBillingResult {
  compression: number;
  idleTimeoutSeconds: number;
  gpuUsdPerSecond: number;
  note: string;
  profiles: Record<string, ProfileRatio>;
}

export async function runGpuBillingBench(options: { compression?: number; chatsPerProfile?: number } = {}): Promise<GpuBillingResult> {
  const c = options.compression ?? 0.05;
  const maxChats = options.chatsPerProfile ?? 3;
  const ledger = new BillingLedger();
  const rate = ledger.rates.serverlessGpuUsdPerSecond.ADA_24 ?? 0;
  const profiles: Record<string, ProfileRatio> = {};

  for (const [name, profile] of Object.entries(PLAN_PROFILES) as [string, UsageProfile][]) {
    const endpoint: JobEndpoint = { id: `ep-${name}`, workersMax: 1, workersMin: 0, idleTimeout: IDLE_TIMEOUT_S, executionTimeoutMs: 120_000 };
    const tokenDelayMs = (profile.secondsPerCall * (profile.callsPerChat ?? 1) * c * 1000) / WORDS;
    const emulator = await buildEmulator({
      apiKey: KEY, billing: ledger,
      jobs: {
        endpoints: (id) => (id === endpoint.id ? endpoint : undefined),
        executor: "workers",
        workerPollWaitMs: 1000,
        workers: { idleTimeoutMs: IDLE_TIMEOUT_S * c * 1000, env: { ECHO_TOKEN_DELAY_MS: String(tokenDelayMs), STREAM_BATCH_TOKENS: "4" } },
      },
    });
    await emulator.listen({ host: "127.0.0.1", port: 0 });
    try {
      const origin = `http://127.0.0.1:${(emulator.server.address() as AddressInfo).port}`;
      const client = new RunpodServerlessClient({ endpointId: endpoint.id, baseURL: `${origin}/v2`, apiKey: KEY });
      const before = billedSeconds(ledger, endpoint.id);
      const chats = Math.min(maxChats, profile.chatsPerDay);
      const executions: number[] = [];
      const delays: number[] = [];
      for (let i = 0; i < chats; i++) {
        const job = await client.run({ messages: [{ role: "user", content: Array.from({ length: WORDS }, (_, w) => `word${w}`).join(" ") }], max_tokens: WORDS }, { timeoutMs: 120_000 });
        executions.push((job.executionTime ?? 0) / 1000);
        delays.push((job.delayTime ?? 0) / 1000);
        await sleep(profile.secondsBetweenChats * c * 1000);
      }
      // The last worker stops after its idle timeout: wait until the ledger has its interval.
      const deadline = Date.now() + 30_000;
      while (await workersUp(client) && Date.now() < deadline) await sleep(50);
      const billed = (billedSeconds(ledger, endpoint.id) - before) / c;
      const useful = executions.reduce((a, b) => a + b, 0) / c;
      const meanExecution = useful / chats;
      const meanColdStart = delays.reduce((a, b) => a + b, 0) / chats / c;
      // The model on the same chats: measured chat and cold-start times, the stack's idle timeout, every chat alone.
      const predicted = estimateUsage({ idleTimeout: IDLE_TIMEOUT_S, flashboot: false, workersMin: 0 }, rate, 0, {
        ...profile, chatsPerDay: chats, callsPerChat: 1, secondsPerCall: meanExecution, coldStartSeconds: meanColdStart,
      });
      const measuredRatio = billed / useful;
      const predictedRatio = predicted.gpuSecondsPerDay.total / predicted.gpuSecondsPerDay.execution;
      const departure = measuredRatio / predictedRatio - 1;
      profiles[name] = {
        chats, usefulSeconds: round(useful), billedSeconds: round(billed), meanExecutionSeconds: round(meanExecution),
        meanColdStartSeconds: round(meanColdStart), measuredRatio: round(measuredRatio, 3), predictedRatio: round(predictedRatio, 3),
        departure: round(departure, 3),
        costPerChatUsd: { measured: round((billed * rate) / chats, 6), predicted: round(predicted.usdPerDay / chats, 6) },
        defect: Math.abs(departure) > 0.1,
      };
    } finally {
      await emulator.close();
    }
  }
  return {
    compression: c, idleTimeoutSeconds: IDLE_TIMEOUT_S, gpuUsdPerSecond: rate,
    note: "seconds are model seconds (compressed ÷ compression); cold starts are real SDK worker starts ÷ compression",
    profiles,
  };
}

function billedSeconds(ledger: BillingLedger, endpointId: string): number {
  return ledger.accruals("serverless").filter((a) => a.id === endpointId && a.to !== undefined)
    .reduce((sum, a) => sum + (a.to! - a.from) / 1000, 0);
}

/** Whether the endpoint still has a worker (GET /health, as a client sees it). */
async function workersUp(client: RunpodServerlessClient): Promise<boolean> {
  const w = (await client.health()).workers;
  return w.idle + w.ready + w.running + w.initializing > 0;
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { compression: { type: "string" }, chats: { type: "string" }, json: { type: "boolean", default: false } } });
  const result = await runGpuBillingBench({
    compression: values.compression ? Number(values.compression) : undefined,
    chatsPerProfile: values.chats ? Number(values.chats) : undefined,
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ gpuBilling: result }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`Billed vs useful GPU time (compression ${result.compression}, idle timeout ${result.idleTimeoutSeconds} s)\n`);
  for (const [name, p] of Object.entries(result.profiles)) {
    process.stdout.write(`  ${name}: ${p.chats} chats, useful ${p.usefulSeconds} s, billed ${p.billedSeconds} s, ratio ${p.measuredRatio}`
      + ` (model ${p.predictedRatio}, ${(p.departure * 100).toFixed(1)} %), $/chat ${p.costPerChatUsd.measured} (model ${p.costPerChatUsd.predicted})`
      + `${p.defect ? "  DEFECT: over 10 % apart" : ""}\n`);
  }
}

if (process.argv[1]?.endsWith("bench-gpu-billing.ts")) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`bench-gpu-billing: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
