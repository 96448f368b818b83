// The LLM adapter's contract. Compatible with MetaHuman OS's LLMProvider
// (packages/core/src/llm.ts): same message, option and response shapes,
// plus streaming and cancellation, which MetaHuman OS lacks.

export interface LLMMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface LLMOptions {
  model?: string;
  /** 0 means 0: never replaced by a default. */
  temperature?: number;
  /** Always forwarded to the model (vLLM's own default is 16 tokens). */
  maxTokens?: number;
  format?: "text" | "json";
  /** Cancels the request; a RunPod job is cancelled too. */
  signal?: AbortSignal;
}

export interface LLMUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface LLMResponse {
  content: string;
  model: string;
  usage?: LLMUsage;
}

/** One event of a streamed generation: a small discriminated union. */
export type LLMStreamEvent =
  | { type: "text-delta"; text: string }
  | { type: "progress"; stage: "queued" | "cold-start" | "running"; detail?: string }
  | { type: "finish"; model: string; usage?: LLMUsage; finishReason?: string; job?: JobTimesReport };

/** A serverless job's own times from its final status (RunPod's delayTime and executionTime, ms): what the GPU was billed for. */
export interface JobTimesReport { id: string; delayMs?: number; executionMs?: number }

/** What a backend says about itself, without running a generation (no GPU job, no cost). */
export interface LLMHealth {
  ok: boolean;
  /** A short sentence a person can read ("2 workers ready", "connection refused"). */
  detail?: string;
  /** Backend numbers as the backend reports them (e.g. RunPod's /health jobs and workers). */
  backend?: Record<string, unknown>;
}

export interface LLMProvider {
  name: string;
  /** Optional: a free probe of the backend, used by the web pod's GET /api/health. */
  health?(signal?: AbortSignal): Promise<LLMHealth>;
  generate(messages: LLMMessage[], options?: LLMOptions): Promise<LLMResponse>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  generateJSON<T = any>(messages: LLMMessage[], options?: LLMOptions): Promise<T>;
  stream(messages: LLMMessage[], options?: LLMOptions): AsyncIterable<LLMStreamEvent>;
}

export const PROVIDER_NAMES = ["ollama", "openai", "runpod_serverless", "mock"] as const;
