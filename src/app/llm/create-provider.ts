// Picks the provider named by LLM_PROVIDER and configures it from the validated env.
import type { WebEnv } from "../env";
import { createMockProvider, type MockSettings } from "./mock";
import { createOllamaProvider } from "./ollama";
import { createOpenAIProvider } from "./openai";
import { createRunpodServerlessProvider } from "./runpod-serverless";
import type { LLMHealth, LLMProvider } from "./types";

export interface CreateProviderOverrides {
  fetch?: typeof fetch;
  /** Only for LLM_PROVIDER=mock (tests and demos). */
  mock?: MockSettings;
}

type ProviderEnv = Pick<
  WebEnv,
  "LLM_PROVIDER" | "LLM_MODEL" | "MOCK_LLM_DELAY_MS" | "OLLAMA_URL" | "OPENAI_BASE_URL" | "OPENAI_API_KEY" | "RUNPOD_API_KEY" | "RUNPOD_ENDPOINT_ID" | "RUNPOD_SERVERLESS_URL"
>;

/**
 * The runpod_serverless provider describes the endpoint (cold/starting/ready/...);
 * the health route needs a verdict. Scaled to zero is healthy: that is the design.
 */
function withRunpodVerdict(provider: LLMProvider): LLMProvider {
  const probe = provider.health?.bind(provider);
  if (!probe) return provider;
  return {
    ...provider,
    name: provider.name,
    generate: provider.generate.bind(provider),
    generateJSON: provider.generateJSON.bind(provider),
    stream: provider.stream.bind(provider),
    async health(signal?: AbortSignal): Promise<LLMHealth> {
      try {
        const summary = (await probe(signal)) as unknown as Record<string, unknown>;
        if (typeof summary.ok === "boolean") return summary as unknown as LLMHealth;
        const state = String(summary.state ?? "unknown");
        return { ok: state !== "unhealthy", detail: `endpoint ${state}`, backend: summary };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
  };
}

export function createProvider(env: ProviderEnv, overrides: CreateProviderOverrides = {}): LLMProvider {
  const fetchImpl = overrides.fetch ? { fetch: overrides.fetch } : {};
  switch (env.LLM_PROVIDER) {
    case "ollama":
      return createOllamaProvider({ baseURL: env.OLLAMA_URL, model: env.LLM_MODEL ?? "", ...fetchImpl });
    case "openai":
      return createOpenAIProvider({ baseURL: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY, model: env.LLM_MODEL ?? "", ...fetchImpl });
    case "runpod_serverless":
      return withRunpodVerdict(
        createRunpodServerlessProvider({
          endpointId: env.RUNPOD_ENDPOINT_ID,
          apiKey: env.RUNPOD_API_KEY,
          baseURL: env.RUNPOD_SERVERLESS_URL,
          model: env.LLM_MODEL,
          ...fetchImpl,
        }),
      );
    case "mock":
      return createMockProvider({ model: env.LLM_MODEL, delayMs: env.MOCK_LLM_DELAY_MS, ...overrides.mock });
  }
}
