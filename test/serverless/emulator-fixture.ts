// Starts the emulator on a loopback port with one serverless endpoint, for the job API and client tests.
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";
import type { JobEndpoint } from "../../src/emulator/job-store";
import type { JobSystemOptions } from "../../src/emulator/job-system";

export const API_KEY = "test-key-serverless";

export interface RunningEmulator {
  app: FastifyInstance;
  /** RUNPOD_SERVERLESS_URL: `http://127.0.0.1:PORT/v2`. */
  serverlessUrl: string;
  origin: string;
  endpoint: JobEndpoint;
  close(): Promise<void>;
}

export async function startEmulator(jobs: JobSystemOptions = {}, endpoint: Partial<JobEndpoint> = {}): Promise<RunningEmulator> {
  const ep: JobEndpoint = { id: "ep-test", workersMax: 2, workersMin: 0, idleTimeout: 5, executionTimeoutMs: 60_000, ...endpoint };
  const app = await buildEmulator({ apiKey: API_KEY, jobs: { endpoints: (id) => (id === ep.id ? ep : undefined), ...jobs } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  return { app, origin, serverlessUrl: `${origin}/v2`, endpoint: ep, close: async () => {
      const closing = app.close();
      // Keep-alive sockets of aborted client requests would hold close() for the client's idle timeout.
      app.server.closeAllConnections();
      await closing;
    },
  };
}

/** The emulator's record of the endpoint's jobs (its test-only view), newest last. */
export async function listJobs<T = unknown>(emu: RunningEmulator): Promise<T[]> {
  return (await fetch(`${emu.origin}/_emulator/jobs?endpointId=${emu.endpoint.id}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as Promise<T[]>;
}

export async function call(
  emu: RunningEmulator,
  method: string,
  path: string,
  body?: unknown,
  key = API_KEY,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${emu.serverlessUrl}/${emu.endpoint.id}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
