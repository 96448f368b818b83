// Finding L7 of issue 18: `npm run local` wrote the web pod's env without RUNPOD_API_URL, so the spend view
// called the real RunPod (api.runpod.io) with the local emulator's key. Here the env is written the way
// `npm run local` writes it, from outputs shaped like the stack's, and the real server command runs on it:
// every billing read of the spend view reaches the local emulator.
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as dotenv from "dotenv";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { envFileFromOutputs } from "../../src/app/env-file";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { buildEmulator } from "../../src/emulator/emulator";
import type { JobEndpoint } from "../../src/emulator/job-store";
import { LOCAL_USERNAME, localWebEnvOverrides } from "../../src/local/local-stack";
import { login, PASSWORD, TEST_SECRET, tempRoot } from "../app/helpers";
import { startServer, type ServerChild } from "../app/server-child";

const KEY = "local-emulator-key-0123456789";

let emulator: FastifyInstance | undefined;
let server: ServerChild | undefined;
let root: string | undefined;
afterEach(async () => {
  if (server && server.proc.exitCode === null) {
    server.proc.kill("SIGKILL");
    await server.exited;
  }
  await emulator?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  emulator = server = root = undefined;
});

describe("npm run local's web env", () => {
  it("points the spend view's billing reads at the emulator, with the emulator's key", { timeout: 30_000 }, async () => {
    const endpoint: JobEndpoint = { id: "ep-local", workersMax: 1, workersMin: 0, idleTimeout: 5, executionTimeoutMs: 60_000 };
    emulator = await buildEmulator({ apiKey: KEY, jobs: { endpoints: (id) => (id === endpoint.id ? endpoint : undefined) } });
    const billingReads: { path: string; authorized: boolean }[] = [];
    emulator.addHook("onRequest", async (request) => {
      if (request.url.startsWith("/v2/billing/")) billingReads.push({ path: request.url.split("?")[0]!, authorized: request.headers.authorization === `Bearer ${KEY}` });
    });
    await emulator.listen({ host: "127.0.0.1", port: 0 });
    const emulatorUrl = `http://127.0.0.1:${(emulator.server.address() as AddressInfo).port}`;

    root = tempRoot();
    await setPassword(MetaHumanPaths.open(root), LOCAL_USERNAME, PASSWORD);
    // The stack's webEnv output (src/infra/metahuman-stack.ts) names no RunPod base URL: the pod uses RunPod's own.
    const outputs = {
      endpointId: endpoint.id,
      volumeId: "vol-local",
      webEnv: {
        RUNPOD_API_KEY: KEY, RUNPOD_ENDPOINT_ID: endpoint.id, METAHUMAN_ROOT: "/runpod-volume/metahuman", LLM_PROVIDER: "runpod_serverless",
        LLM_MODEL: "Qwen/Qwen2.5-0.5B-Instruct", HOST: "0.0.0.0", PORT: "4321", NODE_ENV: "production", SESSION_SECRET: TEST_SECRET, BUDGET_MONTHLY_USD: "30",
      },
    };
    const env = dotenv.parse(envFileFromOutputs(outputs, localWebEnvOverrides({ emulatorUrl, volumeDir: root, webPort: 0 })));
    expect(env.RUNPOD_API_URL).toBe(emulatorUrl);

    server = startServer(env);
    const url = await server.url();
    const { cookie } = await login(url, LOCAL_USERNAME);
    const spend = await fetch(`${url}/api/admin/spend?refresh=1`, { headers: { cookie: cookie! } });
    expect(spend.status).toBe(200);
    const view = (await spend.json()) as { monthToDate: unknown; problem?: string };
    expect(view.problem).toBeUndefined();
    expect(view.monthToDate).toMatchObject({ totalUsd: expect.any(Number) });
    expect(billingReads.map((r) => r.path).sort()).toEqual(["/v2/billing/endpoints", "/v2/billing/network-volumes", "/v2/billing/pods", "/v2/billing/serverless"]);
    expect(billingReads.every((r) => r.authorized)).toBe(true);
  });
});
