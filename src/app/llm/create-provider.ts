// Picks the provider named by LLM_PROVIDER and configures it from the validated env.
import type { WebEnv } from "../env";
import { createMockProvider, type MockSettings } from "./mock";
import { createOllamaProvider } from "./ollama";
import { createOpenAIProvider } from "./openai";
import { createRunpodServerlessProvider } from "./runpod-serverless";
import type { LLMProvider } from "./types";

export interface CreateProviderOverrides {
  fetch?: typeof fetch;
  /** Only for LLM_PROVIDER=mock (tests and demos). */
  mock?: MockSettings;
}

type ProviderEnv = Pick<
  WebEnv,
  "LLM_PROVIDER" | "LLM_MODEL" | "MOCK_LLM_DELAY_MS" | "OLLAMA_URL" | "OPENAI_BASE_URL" | "OPENAI_API_KEY" | "RUNPOD_API_KEY" | "RUNPOD_ENDPOINT_ID" | "RUNPOD_SERVERLESS_URL"
>;

export function createProvider(env: ProviderEnv, overrides: CreateProviderOverrides = {}): LLMProvider {
  const fetchImpl = overrides.fetch ? { fetch: overrides.fetch } : {};
  switch (env.LLM_PROVIDER) {
    case "ollama":
      return createOllamaProvider({ baseURL: env.OLLAMA_URL, model: env.LLM_MODEL ?? "", ...fetchImpl });
    case "openai":
      return createOpenAIProvider({ baseURL: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY, model: env.LLM_MODEL ?? "", ...fetchImpl });
    case "runpod_serverless":
      return createRunpodServerlessProvider({
        endpointId: env.RUNPOD_ENDPOINT_ID,
        apiKey: env.RUNPOD_API_KEY,
        baseURL: env.RUNPOD_SERVERLESS_URL,
        model: env.LLM_MODEL,
        ...fetchImpl,
      });
    case "mock":
      return createMockProvider({ model: env.LLM_MODEL, delayMs: env.MOCK_LLM_DELAY_MS, ...overrides.mock });
  }
}
