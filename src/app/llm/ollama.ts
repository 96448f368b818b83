// Ollama: POST {baseURL}/api/chat, one JSON answer (stream: false) or NDJSON chunks.
// This file only translates between our types and Ollama's wire format.
import { z } from "zod";
import { LLMError, LLMResponseError } from "./errors";
import { readJsonBody, requestWithRetry, type HttpSettings } from "./http";
import { parseModelJson } from "./json-output";
import { parseNdjson, readLines } from "./lines";
import type { LLMHealth, LLMMessage, LLMOptions, LLMProvider, LLMResponse, LLMStreamEvent, LLMUsage } from "./types";

export interface OllamaSettings extends HttpSettings {
  /** Default http://127.0.0.1:11434 (OLLAMA_URL). */
  baseURL?: string;
  model: string;
  /** Sent as num_predict when the caller gives no maxTokens, so a limit always reaches the model. */
  defaultMaxTokens?: number;
  defaultTemperature?: number;
}

const chunkSchema = z
  .object({
    model: z.string().optional(),
    message: z.object({ role: z.string().optional(), content: z.string().default("") }).optional(),
    done: z.boolean().optional(),
    done_reason: z.string().optional(),
    prompt_eval_count: z.number().optional(),
    eval_count: z.number().optional(),
    error: z.string().optional(),
  })
  .passthrough();
type OllamaChunk = z.infer<typeof chunkSchema>;

function usageOf(chunk: OllamaChunk): LLMUsage | undefined {
  if (chunk.prompt_eval_count === undefined && chunk.eval_count === undefined) return undefined;
  const promptTokens = chunk.prompt_eval_count ?? 0;
  const completionTokens = chunk.eval_count ?? 0;
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

function readChunk(value: unknown, url: string): OllamaChunk {
  const parsed = chunkSchema.safeParse(value);
  if (!parsed.success) throw new LLMResponseError(`${url} sent a chat chunk that is not Ollama's shape: ${parsed.error.issues[0]?.message}`);
  if (parsed.data.error) throw new LLMError(`Ollama: ${parsed.data.error}`);
  return parsed.data;
}

export function createOllamaProvider(settings: OllamaSettings): LLMProvider {
  const baseURL = (settings.baseURL ?? process.env.OLLAMA_URL ?? "http://127.0.0.1:11434").replace(/\/+$/, "");
  const chatUrl = `${baseURL}/api/chat`;

  const body = (messages: LLMMessage[], options: LLMOptions, stream: boolean) => ({
    model: options.model ?? settings.model,
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    stream,
    ...(options.format === "json" ? { format: "json" } : {}),
    options: {
      // `??`, never `||`: temperature 0 is a real choice (deterministic output).
      temperature: options.temperature ?? settings.defaultTemperature ?? 0.7,
      num_predict: options.maxTokens ?? settings.defaultMaxTokens ?? 1024,
    },
  });

  const generate = async (messages: LLMMessage[], options: LLMOptions = {}): Promise<LLMResponse> => {
    const response = await requestWithRetry(chatUrl, { body: body(messages, options, false), signal: options.signal }, settings);
    const chunk = readChunk(await readJsonBody(response, chatUrl), chatUrl);
    return { content: chunk.message?.content ?? "", model: chunk.model ?? options.model ?? settings.model, usage: usageOf(chunk) };
  };

  return {
    name: "ollama",
    generate,
    async generateJSON<T>(messages: LLMMessage[], options: LLMOptions = {}): Promise<T> {
      const response = await generate(messages, { ...options, format: "json" });
      return parseModelJson<T>(response.content);
    },
    async *stream(messages: LLMMessage[], options: LLMOptions = {}): AsyncGenerator<LLMStreamEvent> {
      const response = await requestWithRetry(chatUrl, { body: body(messages, options, true), signal: options.signal }, settings);
      if (!response.body) throw new LLMResponseError(`${chatUrl} sent no body`);
      let finished = false;
      for await (const value of parseNdjson(readLines(response.body))) {
        const chunk = readChunk(value, chatUrl);
        const text = chunk.message?.content ?? "";
        if (text) yield { type: "text-delta", text };
        if (chunk.done) {
          finished = true;
          yield { type: "finish", model: chunk.model ?? options.model ?? settings.model, usage: usageOf(chunk), finishReason: chunk.done_reason };
        }
      }
      if (!finished) throw new LLMError(`${chatUrl} ended the stream before "done"`, true);
    },
    async health(signal?: AbortSignal): Promise<LLMHealth> {
      try {
        const response = await requestWithRetry(`${baseURL}/api/tags`, { signal }, { ...settings, maxRetries: 0 });
        const tags = z.object({ models: z.array(z.object({ name: z.string() }).passthrough()).default([]) }).safeParse(await readJsonBody(response, `${baseURL}/api/tags`));
        const names = tags.success ? tags.data.models.map((m) => m.name) : [];
        const present = names.includes(settings.model);
        return { ok: present, detail: present ? `model ${settings.model} is available` : `model ${settings.model} is not pulled`, backend: { models: names } };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
  };
}
