// The runpod_serverless LLM provider: translates between the LLMProvider contract
// and the worker job contract, over the RunPod job API client.
import type { LLMHealth, LLMMessage, LLMOptions, LLMProvider, LLMResponse, LLMStreamEvent } from "./types";
import { RunpodServerlessClient, type EndpointHealth, type ServerlessClientSettings } from "../../runpod/serverless";
import { readChunk, readOutput, type WorkerInput } from "../../runpod/worker-contract";
import { ServerlessBadOutputError } from "../../runpod/job-api-errors";

export interface RunpodServerlessProviderSettings extends Partial<ServerlessClientSettings> {
  /** Defaults to RUNPOD_ENDPOINT_ID. */
  endpointId?: string;
  /** Model name reported when the worker does not say. */
  model?: string;
  /** Sent when the caller gives none: vLLM's own default is only 16 tokens. Default 1024. */
  defaultMaxTokens?: number;
  /** Used when the caller gives no temperature. Default 0.7. */
  defaultTemperature?: number;
  /** Deadline of one generation, queue and cold start included. Default 10 min. */
  timeoutMs?: number;
}

/** What the web server's health route shows about the endpoint (scaled to zero is healthy: that is the design). */
export interface RunpodEndpointHealthSummary extends LLMHealth {
  endpointId: string;
  /** cold: no worker up; starting: a worker is initializing; ready: a worker can take jobs now. */
  state: "cold" | "starting" | "ready" | "busy" | "unhealthy";
  /** RunPod's /health answer as it came. */
  backend: Pick<EndpointHealth, "jobs" | "workers">;
}

const JSON_INSTRUCTION = "Answer with one JSON value only: no prose, no code fences.";

export type RunpodServerlessProvider = Omit<LLMProvider, "health"> & { health(signal?: AbortSignal): Promise<RunpodEndpointHealthSummary> };

export function createRunpodServerlessProvider(settings: RunpodServerlessProviderSettings = {}): RunpodServerlessProvider {
  let client: RunpodServerlessClient | undefined;
  // Built lazily so a missing RUNPOD_ENDPOINT_ID fails the first call, with its name, not the import.
  const getClient = (): RunpodServerlessClient =>
    (client ??= new RunpodServerlessClient({ ...settings, endpointId: settings.endpointId ?? process.env.RUNPOD_ENDPOINT_ID ?? "" }));

  const toInput = (messages: LLMMessage[], options: LLMOptions, stream: boolean): WorkerInput => {
    const wanted = options.format === "json" ? [{ role: "system" as const, content: JSON_INSTRUCTION }, ...messages] : messages;
    return {
      messages: wanted.map((m) => ({ role: m.role, content: m.content })),
      max_tokens: options.maxTokens ?? settings.defaultMaxTokens ?? 1024,
      // `??`, not `||`: temperature 0 means 0.
      temperature: options.temperature ?? settings.defaultTemperature ?? 0.7,
      // The worker's JSON mode (vLLM structured output); the instruction above only asks in words.
      ...(options.format === "json" ? { format: "json" as const } : {}),
      ...(stream ? { stream: true } : {}),
    };
  };

  const generate = async (messages: LLMMessage[], options: LLMOptions = {}): Promise<LLMResponse> => {
    const job = await getClient().run(toInput(messages, options, false), { signal: options.signal, timeoutMs: settings.timeoutMs });
    const piece = readOutput(job.output, job.id);
    return { content: piece.text, model: piece.model ?? options.model ?? settings.model ?? "runpod", ...(piece.usage ? { usage: piece.usage } : {}) };
  };

  return {
    name: "runpod_serverless",
    generate,

    async generateJSON<T>(messages: LLMMessage[], options: LLMOptions = {}): Promise<T> {
      const res = await generate(messages, { ...options, format: "json" });
      const text = res.content.trim().replace(/^```(?:json)?\s*/i, "").replace(/```$/, "").trim();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ServerlessBadOutputError(`model output is not JSON: ${JSON.stringify(res.content.slice(0, 200))}`, undefined, res.content);
      }
    },

    async *stream(messages: LLMMessage[], options: LLMOptions = {}): AsyncIterable<LLMStreamEvent> {
      let streamed = "";
      let last: { model?: string; usage?: LLMResponse["usage"]; finishReason?: string } = {};
      for await (const event of getClient().stream(toInput(messages, options, true), { signal: options.signal, timeoutMs: settings.timeoutMs })) {
        if (event.type === "progress") {
          yield { type: "progress", stage: event.progress.stage, ...(event.progress.detail ? { detail: event.progress.detail } : {}) };
        } else if (event.type === "chunk") {
          const piece = readChunk(event.output, undefined);
          last = { model: piece.model ?? last.model, usage: piece.usage ?? last.usage, finishReason: piece.finishReason ?? last.finishReason };
          if (piece.text) {
            streamed += piece.text;
            yield { type: "text-delta", text: piece.text };
          }
        } else {
          // The final output may hold what the chunks did not: the whole text (worker without streaming), usage, model.
          let final: ReturnType<typeof readOutput> | undefined;
          try {
            final = event.job.output === undefined ? undefined : readOutput(event.job.output, event.job.id);
          } catch (err) {
            if (!streamed) throw err;
          }
          if (final && !streamed && final.text) yield { type: "text-delta", text: final.text };
          yield {
            type: "finish",
            model: final?.model ?? last.model ?? options.model ?? settings.model ?? "runpod",
            ...((final?.usage ?? last.usage) ? { usage: final?.usage ?? last.usage } : {}),
            ...((final?.finishReason ?? last.finishReason) ? { finishReason: final?.finishReason ?? last.finishReason } : {}),
            job: { id: event.job.id, delayMs: event.job.delayTime, executionMs: event.job.executionTime },
          };
        }
      }
    },

    async health(signal?: AbortSignal): Promise<RunpodEndpointHealthSummary> {
      const h = await getClient().health(signal);
      const w = h.workers;
      const state: RunpodEndpointHealthSummary["state"] =
        w.idle + w.ready > 0 && w.running < w.ready ? "ready"
        : w.running > 0 ? "busy"
        : w.initializing > 0 ? "starting"
        : (w.unhealthy ?? 0) > 0 ? "unhealthy"
        : "cold";
      const detail =
        state === "cold" ? "no worker running (scaled to zero): the next request starts one"
        : state === "starting" ? `starting a GPU worker (${w.initializing} initializing)`
        : state === "unhealthy" ? `${w.unhealthy} worker(s) unhealthy and none ready`
        : `${w.ready} worker(s) ready, ${w.running} running, ${h.jobs.inQueue} job(s) queued`;
      const endpointId = getClient().endpointId;
      return { ok: state !== "unhealthy", detail, endpointId, state, backend: { jobs: h.jobs, workers: w } };
    },
  };
}
