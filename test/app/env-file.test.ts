import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as dotenv from "dotenv";
import { afterAll, describe, expect, it } from "vitest";
import { parseWebEnv } from "../../src/app/env";
import { envFileFromOutputs } from "../../src/app/env-file";

const API_KEY = "test-api-key-do-not-print-0123456789";
const SESSION = "session secret with \"quotes\", \\backslash, it's = sign";

function stackOutputs(overrides: Record<string, unknown> = {}) {
  return {
    volumeId: "vol-1", endpointId: "ep-abc", webPodId: "pod-1", dataCenter: "EU-RO-1",
    webUrl: "https://pod-1-4321.proxy.runpod.net",
    costEstimate: { baseUsdPerMonth: 123 },
    webEnv: {
      RUNPOD_API_KEY: API_KEY, RUNPOD_ENDPOINT_ID: "ep-abc", METAHUMAN_ROOT: "/runpod-volume/metahuman",
      OLLAMA_MODELS: "/runpod-volume/ollama/models", LLM_PROVIDER: "runpod_serverless", LLM_MODEL: "Qwen/Qwen2.5-7B-Instruct-AWQ",
      HOST: "0.0.0.0", PORT: "4321", NODE_ENV: "production", SESSION_SECRET: SESSION,
    },
    ...overrides,
  };
}

const dir = mkdtempSync(join(tmpdir(), "write-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runCli(args: string[], stdin: string) {
  return spawnSync(process.execPath, ["--import", "tsx", "scripts/write-env.ts", ...args], { input: stdin, encoding: "utf8" });
}

describe("write-env", () => {
  it("writes a dotenv file the web pod's schema accepts, every value surviving the round trip", () => {
    const text = envFileFromOutputs(stackOutputs());
    const parsed = dotenv.parse(text);
    expect(parsed.SESSION_SECRET).toBe(SESSION);
    expect(parsed.RUNPOD_API_KEY).toBe(API_KEY);
    const env = parseWebEnv(parsed);
    expect(env.LLM_PROVIDER).toBe("runpod_serverless");
    expect(env.RUNPOD_ENDPOINT_ID).toBe("ep-abc");
  });

  it("applies overrides (the local stack points the job client at the emulator)", () => {
    const parsed = dotenv.parse(envFileFromOutputs(stackOutputs(), { RUNPOD_SERVERLESS_URL: "http://127.0.0.1:9/v2" }));
    expect(parsed.RUNPOD_SERVERLESS_URL).toBe("http://127.0.0.1:9/v2");
  });

  it.each(["webEnv", "endpointId", "volumeId"])("names a missing output: %s", (name) => {
    const outputs: Record<string, unknown> = stackOutputs();
    delete outputs[name];
    expect(() => envFileFromOutputs(outputs)).toThrow(`stack output "${name}" is missing`);
  });

  it("says to use --show-secrets when the env output is hidden", () => {
    expect(() => envFileFromOutputs(stackOutputs({ webEnv: "[secret]" }))).toThrow("--show-secrets");
  });

  it("rejects a bad variable by name without printing secrets", () => {
    const outputs = stackOutputs();
    (outputs.webEnv as Record<string, string>).PORT = "not-a-port";
    const result = runCli(["--out", join(dir, "bad.env")], JSON.stringify(outputs));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("PORT");
    expect(result.stderr).not.toContain(API_KEY);
    expect(result.stderr).not.toContain("session secret");
  });

  it("reads stdin, writes the file with mode 0600 and prints no secret", () => {
    const out = join(dir, ".env.production");
    const result = runCli(["--out", out], JSON.stringify(stackOutputs()));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain(API_KEY);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(dotenv.parse(readFileSync(out, "utf8")).RUNPOD_API_KEY).toBe(API_KEY);
  });

  it("fails with a clear message on input that is not JSON", () => {
    const result = runCli(["--out", join(dir, "x.env")], "Current stack outputs (2):");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("is not JSON");
  });
});
