// Any OpenAI-compatible server: POST {baseURL}/chat/completions, JSON or SSE chunks.
// This file only translates between our types and the OpenAI wire format.
import { z } from "zod";
import { LLMError, LLMResponseError } from "./errors";
import { readJsonBody, requestWithRetry, type HttpSettings } from "./http";
import { parseModelJson } from "./json-output";
import { readSseEvents } from "../../common/sse";
import type { LLMHealth, LLMMessage, LLMOptions, LLMProvider, LLMResponse, LLMStreamEvent, LLMUsage } from "./types";

export interface OpenAISettings extends HttpSettings {
  /** Includes the version segment, e.g. https://api.openai.com/v1 (OPENAI_BASE_URL). */
  baseURL?: string;
  /** Default OPENAI_API_KEY, read at the first request; optional for self-hosted servers. */
  apiKey?: string;
  model: string;
  /** Sent as max_tokens when the caller gives none (vLLM's own default is 16 tokens). */
  defaultMaxTokens?: number;
  defaultTemperature?: number;
}

const usageSchema = z
  .object({ prompt_tokens: z.number().default(0), completion_tokens: z.number().default(0), total_tokens: z.number().optional() })
  .passthrough();

const completionSchema = z
  .object({
    model: z.string().optional(),
    choices: z
      .array(z.object({ message: z.object({ content: z.string().nullable().default("") }), finish_reason: z.string().nullable().optional() }).passthrough())
      .min(1),
    usage: usageSchema.nullable().optional(),
  })
  .passthrough();

const chunkSchema = z
  .object({
    model: z.string().optional(),
    choices: z
      .array(z.object({ delta: z.object({ content: z.string().nullable().optional() }).passthrough().optional(), finish_reason: z.string().nullable().optional() }).passthrough())
      .default([]),
    usage: usageSchema.nullable().optional(),
  })
  .passthrough();

function mapUsage(u: z.infer<typeof usageSchema> | null | undefined): LLMUsage | undefined {
  if (!u) return undefined;
  return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens ?? u.prompt_tokens + u.completion_tokens };
}

export function createOpenAIProvider(settings: OpenAISettings): LLMProvider {
  const baseURL = (settings.baseURL ?? process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(/\/+$/, "");
  const url = `${baseURL}/chat/completions`;
  const authHeaders = (): Record<string, string> => {
    const key = settings.apiKey ?? process.env.OPENAI_API_KEY;
    return key ? { authorization: `Bearer ${key}` } : {};
  };

  const body = (messages: LLMMessage[], options: LLMOptions, stream: boolean) => ({
    model: options.model ?? settings.model,
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: options.temperature ?? settings.defaultTemperature ?? 0.7,
    max_tokens: options.maxTokens ?? settings.defaultMaxTokens ?? 1024,
    ...(options.format === "json" ? { response_format: { type: "json_object" } } : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

  const generate = async (messages: LLMMessage[], options: LLMOptions = {}): Promise<LLMResponse> => {
    const response = await requestWithRetry(url, { body: body(messages, options, false), headers: authHeaders(), signal: options.signal }, settings);
    const parsed = completionSchema.safeParse(await readJsonBody(response, url));
    if (!parsed.success) throw new LLMResponseError(`${url} answered with a body that is not a chat completion: ${parsed.error.issues[0]?.message}`);
    return { content: parsed.data.choices[0]?.message.content ?? "", model: parsed.data.model ?? options.model ?? settings.model, usage: mapUsage(parsed.data.usage) };
  };

  return {
    name: "openai",
    generate,
    async generateJSON<T>(messages: LLMMessage[], options: LLMOptions = {}): Promise<T> {
      return parseModelJson<T>((await generate(messages, { ...options, format: "json" })).content);
    },
    async *stream(messages: LLMMessage[], options: LLMOptions = {}): AsyncGenerator<LLMStreamEvent> {
      const response = await requestWithRetry(url, { body: body(messages, options, true), headers: authHeaders(), signal: options.signal }, settings);
      if (!response.body) throw new LLMResponseError(`${url} sent no body`);
      let model = options.model ?? settings.model;
      let finishReason: string | undefined;
      let usage: LLMUsage | undefined;
      for await (const event of readSseEvents(response.body)) {
        if (event.data === "[DONE]") {
          yield { type: "finish", model, usage, finishReason };
          return;
        }
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          throw new LLMResponseError(`${url} sent an SSE event that is not JSON: ${JSON.stringify(event.data.slice(0, 200))}`);
        }
        if (json && typeof json === "object" && "error" in json) {
          const e = (json as { error: { message?: string } | string }).error;
          throw new LLMError(`OpenAI-compatible server: ${typeof e === "string" ? e : (e.message ?? JSON.stringify(e))}`);
        }
        const chunk = chunkSchema.safeParse(json);
        if (!chunk.success) throw new LLMResponseError(`${url} sent a chunk that is not a chat completion chunk: ${chunk.error.issues[0]?.message}`);
        if (chunk.data.model) model = chunk.data.model;
        usage = mapUsage(chunk.data.usage) ?? usage;
        for (const choice of chunk.data.choices) {
          const text = choice.delta?.content;
          if (text) yield { type: "text-delta", text };
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      }
      throw new LLMError(`${url} ended the stream without [DONE]`, true);
    },
    async health(signal?: AbortSignal): Promise<LLMHealth> {
      try {
        const response = await requestWithRetry(`${baseURL}/models`, { headers: authHeaders(), signal }, { ...settings, maxRetries: 0 });
        const list = z.object({ data: z.array(z.object({ id: z.string() }).passthrough()).default([]) }).safeParse(await readJsonBody(response, `${baseURL}/models`));
        const ids = list.success ? list.data.data.map((m) => m.id) : [];
        return { ok: true, detail: `${ids.length} model(s) listed`, backend: { models: ids } };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
  };
}
