// The emulator on a loopback port (port 0) for the REST client, provider and contract tests.
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";
import { createRunPodRestClient, type RunPodRestSettings } from "../../src/runpod/rest";

export const API_KEY = "test-key-rest";

export interface RestEmulator {
  app: FastifyInstance;
  origin: string;
  client(settings?: RunPodRestSettings): ReturnType<typeof createRunPodRestClient>;
  /** Raw call, for asserting on the emulator's own answers. */
  call(method: string, path: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any; headers: Headers }>;
  fault(rule: Record<string, unknown>): Promise<void>;
  requests(): Promise<{ method: string; path: string; body?: unknown; status?: number; faulted: boolean }[]>;
  close(): Promise<void>;
}

export async function startRestEmulator(): Promise<RestEmulator> {
  const app = await buildEmulator({ apiKey: API_KEY });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  const call: RestEmulator["call"] = async (method, path, body, key = API_KEY) => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${origin}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  return {
    app,
    origin,
    client: (settings = {}) => createRunPodRestClient({ baseURL: origin, apiKey: API_KEY, retryBaseDelayMs: 10, ...settings }),
    call,
    fault: async (rule) => {
      const answer = await call("POST", "/_emulator/faults", rule, null);
      if (answer.status !== 201) throw new Error(`fault not accepted: ${JSON.stringify(answer.body)}`);
    },
    requests: async () => (await call("GET", "/_emulator/requests")).body.requests,
    close: async () => {
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    },
  };
}
