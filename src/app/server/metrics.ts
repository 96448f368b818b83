// Prometheus metrics of one app instance (its own registry, so tests can build many apps).
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MetaHumanPaths } from "../paths";
import type { SpendTracker } from "./spend";

export interface AppMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpErrors: Counter<"method" | "route" | "status">;
  chats: Counter<"outcome">;
  llmDuration: Histogram<"provider" | "outcome">;
  llmFirstToken: Histogram<"provider">;
  coldStart: Histogram<"provider">;
  activeStreams: Gauge;
  /** Per chat, from the job's final status: RunPod's delayTime and executionTime, GPU seconds billed, dollars. */
  jobDelaySeconds: Counter;
  jobExecutionSeconds: Counter;
  chatGpuSeconds: Histogram;
  chatCostUsd: Counter;
}

export function createMetrics(paths: MetaHumanPaths, spend?: SpendTracker): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "metahuman_" });
  const registers = [registry];
  registerVolumeGauges(paths, registry);
  if (spend) registerSpendGauges(spend, registry);
  return {
    registry,
    httpRequests: new Counter({ name: "metahuman_http_requests_total", help: "HTTP requests answered", labelNames: ["method", "route", "status"], registers }),
    httpErrors: new Counter({ name: "metahuman_http_errors_total", help: "HTTP requests answered with 5xx", labelNames: ["method", "route", "status"], registers }),
    chats: new Counter({ name: "metahuman_chats_total", help: "Chat exchanges by outcome (ok, error, aborted)", labelNames: ["outcome"], registers }),
    llmDuration: new Histogram({
      name: "metahuman_llm_request_duration_seconds",
      help: "Time from chat request to the model's last token",
      labelNames: ["provider", "outcome"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    llmFirstToken: new Histogram({
      name: "metahuman_llm_time_to_first_token_seconds",
      help: "Time from chat request to the first token",
      labelNames: ["provider"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    coldStart: new Histogram({
      name: "metahuman_llm_cold_start_seconds",
      help: "Time a chat waited for a GPU worker to start (only chats that saw a cold start)",
      labelNames: ["provider"],
      buckets: [1, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    }),
    activeStreams: new Gauge({ name: "metahuman_chat_streams_active", help: "Chat streams open now", registers }),
    jobDelaySeconds: new Counter({ name: "metahuman_gpu_job_delay_seconds_total", help: "RunPod delayTime of finished chat jobs: queue and worker start", registers }),
    jobExecutionSeconds: new Counter({ name: "metahuman_gpu_job_execution_seconds_total", help: "RunPod executionTime of finished chat jobs", registers }),
    chatGpuSeconds: new Histogram({
      name: "metahuman_chat_gpu_seconds",
      help: "GPU seconds billed per chat as far as its job tells: execution plus delay (a worker starting; idle tails are not in it)",
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    }),
    chatCostUsd: new Counter({ name: "metahuman_chat_cost_usd_total", help: "Dollars of GPU time of chats, at GPU_USD_PER_SECOND", registers }),
  };
}

// Read at scrape time, so the numbers are current without a timer in the process.
function registerVolumeGauges(paths: MetaHumanPaths, registry: Registry): void {
  new Gauge({
    name: "metahuman_volume_used_ratio",
    help: "Used share of the filesystem holding METAHUMAN_ROOT (0..1)",
    registers: [registry],
    async collect() {
      try {
        this.set((await paths.storageUsage()).usedRatio);
      } catch {
        this.set(Number.NaN);
      }
    },
  });
  new Gauge({
    name: "metahuman_volume_writable",
    help: "1 when METAHUMAN_ROOT is still the folder the server started with and allows writes (read-only check: a scrape never writes)",
    registers: [registry],
    async collect() {
      let ok = (await paths.checkVolume()) === undefined;
      if (ok) ok = await fsp.access(paths.root, fs.constants.W_OK).then(() => true, () => false);
      this.set(ok ? 1 : 0);
    },
  });
}

// The prices the stack was deployed with and the month's spend from RunPod's billing API (the last reading: a scrape
// never calls RunPod itself; the spend view and the alert check refresh it).
function registerSpendGauges(spend: SpendTracker, registry: Registry): void {
  const registers = [registry];
  new Gauge({
    name: "metahuman_gpu_usd_per_second", help: "Serverless GPU rate the stack was deployed with (GPU_USD_PER_SECOND)", registers,
    collect() { this.set(spend.gpuUsdPerSecond ?? Number.NaN); },
  });
  new Gauge({
    name: "metahuman_budget_monthly_usd", help: "metahuman:budgetMonthlyUsd (BUDGET_MONTHLY_USD)", registers,
    collect() { this.set(spend.budgetMonthlyUsd ?? Number.NaN); },
  });
  new Gauge({
    name: "metahuman_last_chat_cost_usd", help: "GPU dollars of the last chat", registers,
    collect() { this.set(spend.chats.last?.usd ?? Number.NaN); },
  });
  new Gauge({
    name: "metahuman_spend_month_to_date_usd", help: "Spent this month so far by RunPod's billing API (last reading), by family", labelNames: ["family"], registers,
    collect() {
      const r = spend.latest();
      if (!r?.ok) return;
      const m = r.monthToDate;
      this.set({ family: "serverless" }, m.serverlessUsd);
      this.set({ family: "pods" }, m.podsUsd);
      this.set({ family: "network-volumes" }, m.networkVolumesUsd);
      if (m.endpointsUsd !== null) this.set({ family: "endpoints" }, m.endpointsUsd);
      this.set({ family: "total" }, m.totalUsd);
    },
  });
  new Gauge({
    name: "metahuman_spend_projected_month_usd", help: "The month's spend projected from the month so far (NaN in its first day or before a reading)", registers,
    collect() {
      const r = spend.latest();
      this.set(r?.ok && r.monthToDate.projectedMonthUsd !== null ? r.monthToDate.projectedMonthUsd : Number.NaN);
    },
  });
}
