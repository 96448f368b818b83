// Shared test helpers for the web pod: a temp volume, a valid env, a running app on
// 127.0.0.1:0, login and an SSE reader over real HTTP.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { FastifyInstance } from "fastify";
import { parseWebEnv, type WebEnv } from "../../src/app/env";
import { buildApp, type AppOptions } from "../../src/app/server/app";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { readSseEvents } from "../../src/common/sse";

export const TEST_SECRET = "test-session-secret-0123456789abcdef";
export const PASSWORD = "correct horse battery";
/** Unlocks /metrics and the details of /api/health (MONITORING_TOKEN). */
export const MONITORING_TOKEN = "test-monitoring-token-0123456789abcdef";
export const MONITOR_HEADERS = { authorization: `Bearer ${MONITORING_TOKEN}` };

export function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mh-root-"));
}

export function testEnv(root: string, extra: Record<string, string> = {}): WebEnv {
  return parseWebEnv({ LLM_PROVIDER: "mock", METAHUMAN_ROOT: root, SESSION_SECRET: TEST_SECRET, NODE_ENV: "test", MONITORING_TOKEN, ...extra });
}

export interface Running {
  app: FastifyInstance;
  url: string;
  root: string;
  paths: MetaHumanPaths;
  close(): Promise<void>;
}

export async function startApp(options: Partial<AppOptions> & { envExtra?: Record<string, string>; users?: string[] } = {}): Promise<Running> {
  const root = tempRoot();
  const env = options.env ?? testEnv(root, options.envExtra);
  const paths = MetaHumanPaths.open(env.METAHUMAN_ROOT);
  for (const user of options.users ?? ["ada"]) await setPassword(paths, user, PASSWORD);
  const app = await buildApp({ ...options, env, paths });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    app,
    url,
    root,
    paths,
    async close() {
      await app.close();
      fs.chmodSync(root, 0o700);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export async function login(url: string, username = "ada", password = PASSWORD): Promise<{ response: Response; cookie?: string }> {
  const response = await fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const setCookie = response.headers.get("set-cookie") ?? undefined;
  return { response, cookie: setCookie?.split(";")[0] };
}

export interface SseMessage {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Reads a whole SSE response into its events, with the reader the providers and the page use. */
export async function readSse(response: Response): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  if (!response.body) return out;
  for await (const message of readSseEvents(response.body)) out.push({ event: message.event ?? "message", data: JSON.parse(message.data) });
  return out;
}

export function chat(url: string, cookie: string | undefined, content: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${url}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ messages: [{ role: "user", content }], ...extra }),
  });
}
