// Prometheus metrics of one app instance (its own registry, so tests can build many apps).
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MetaHumanPaths } from "../paths";

export interface AppMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpErrors: Counter<"method" | "route" | "status">;
  chats: Counter<"outcome">;
  llmDuration: Histogram<"provider" | "outcome">;
  llmFirstToken: Histogram<"provider">;
  coldStart: Histogram<"provider">;
  activeStreams: Gauge;
}

export function createMetrics(paths: MetaHumanPaths): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "metahuman_" });
  const registers = [registry];
  registerVolumeGauges(paths, registry);
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
