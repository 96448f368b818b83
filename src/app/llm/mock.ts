// A deterministic provider for tests and demos: the answer is a pure function of the
// conversation, streamed word by word with an optional delay. It needs no network.
import { parseModelJson } from "./json-output";
import type { LLMHealth, LLMMessage, LLMOptions, LLMProvider, LLMResponse, LLMStreamEvent } from "./types";
import { sleep } from "../../common/http";

export interface MockSettings {
  model?: string;
  /** Milliseconds between words when streaming. Default 0. */
  delayMs?: number;
  /** Emit a cold-start progress event first (for the page's "Starting a GPU worker…"). */
  coldStartMs?: number;
  /** Override the reply; default echoes the last user message. */
  reply?: (messages: LLMMessage[]) => string;
  /** What health() reports; tests flip it to see a 503. */
  healthy?: boolean | (() => boolean);
  /** Fail every generation with this message (to test error paths). */
  failWith?: string;
}

const tokenCount = (text: string) => (text.trim() === "" ? 0 : text.trim().split(/\s+/).length);

export function createMockProvider(settings: MockSettings = {}): LLMProvider {
  const model = settings.model ?? "mock-1";
  const answer = (messages: LLMMessage[], options: LLMOptions): string => {
    if (settings.failWith) throw new Error(settings.failWith);
    if (options.format === "json") {
      const last = [...messages].reverse().find((m) => m.role === "user");
      return JSON.stringify({ echo: last?.content ?? "", temperature: options.temperature ?? null, maxTokens: options.maxTokens ?? null });
    }
    if (settings.reply) return settings.reply(messages);
    const last = [...messages].reverse().find((m) => m.role === "user");
    let text = `You said: ${last?.content ?? ""}`;
    // maxTokens is honoured like a real model would: the answer is cut at that many words.
    if (options.maxTokens !== undefined) text = text.split(" ").slice(0, options.maxTokens).join(" ");
    return text;
  };
  const usage = (messages: LLMMessage[], content: string) => {
    const promptTokens = messages.reduce((n, m) => n + tokenCount(m.content), 0);
    const completionTokens = tokenCount(content);
    return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
  };

  const generate = async (messages: LLMMessage[], options: LLMOptions = {}): Promise<LLMResponse> => {
    options.signal?.throwIfAborted();
    const content = answer(messages, options);
    return { content, model: options.model ?? model, usage: usage(messages, content) };
  };

  return {
    name: "mock",
    generate,
    async generateJSON<T>(messages: LLMMessage[], options: LLMOptions = {}): Promise<T> {
      return parseModelJson<T>((await generate(messages, { ...options, format: "json" })).content);
    },
    async *stream(messages: LLMMessage[], options: LLMOptions = {}): AsyncGenerator<LLMStreamEvent> {
      options.signal?.throwIfAborted();
      if (settings.coldStartMs !== undefined) {
        yield { type: "progress", stage: "cold-start", detail: "starting a worker" };
        await sleep(settings.coldStartMs, options.signal);
        yield { type: "progress", stage: "running" };
      }
      const content = answer(messages, options);
      const words = content.split(/(?<= )/);
      for (const word of words) {
        await sleep(settings.delayMs ?? 0, options.signal);
        yield { type: "text-delta", text: word };
      }
      yield { type: "finish", model: options.model ?? model, usage: usage(messages, content), finishReason: "stop" };
    },
    async health(): Promise<LLMHealth> {
      const ok = typeof settings.healthy === "function" ? settings.healthy() : (settings.healthy ?? true);
      return { ok, detail: ok ? "mock provider ready" : "mock provider set to unhealthy" };
    },
  };
}
