import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EnvError, loadWebEnv, parseWebEnv, webEnvSchema } from "../../src/app/env";
import { tempRoot } from "./helpers";

const base = { LLM_PROVIDER: "mock", METAHUMAN_ROOT: "/runpod-volume/metahuman", SESSION_SECRET: "s".repeat(40) };
const SECRET = "test-runpod-key-SUPERSECRETVALUE123";

function problems(raw: Record<string, string | undefined>): string[] {
  try {
    parseWebEnv(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(EnvError);
    return (err as EnvError).problems;
  }
  throw new Error("expected the env to be rejected");
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

describe("web pod env", () => {
  it("applies defaults: PORT 4321, HOST 0.0.0.0, RunPod job API URL", () => {
    const env = parseWebEnv(base);
    expect(env).toMatchObject({ PORT: 4321, HOST: "0.0.0.0", NODE_ENV: "development", RUNPOD_SERVERLESS_URL: "https://api.runpod.ai/v2", OLLAMA_URL: "http://127.0.0.1:11434" });
  });

  it.each([
    ["LLM_PROVIDER", { LLM_PROVIDER: undefined }, /^LLM_PROVIDER is required \(one of ollama, openai, runpod_serverless, mock\)/],
    ["LLM_PROVIDER", { LLM_PROVIDER: "vllm" }, /^LLM_PROVIDER must be one of ollama, openai, runpod_serverless, mock \(got "vllm"\)/],
    ["METAHUMAN_ROOT", { METAHUMAN_ROOT: undefined }, /^METAHUMAN_ROOT is required/],
    ["METAHUMAN_ROOT", { METAHUMAN_ROOT: "relative/dir" }, /^METAHUMAN_ROOT must be an absolute path \(got "relative\/dir"\)/],
    ["SESSION_SECRET", { SESSION_SECRET: undefined }, /^SESSION_SECRET is required/],
    ["SESSION_SECRET", { SESSION_SECRET: "short" }, /^SESSION_SECRET must be at least 32 characters long$/],
    ["PORT", { PORT: "http" }, /^PORT must be a whole number from 0 to 65535 \(got "http"\)/],
    ["PORT", { PORT: "70000" }, /^PORT must be a whole number from 0 to 65535 \(got "70000"\)/],
    ["NODE_ENV", { NODE_ENV: "prod" }, /^NODE_ENV must be one of development, production, test \(got "prod"\)/],
    ["OLLAMA_URL", { OLLAMA_URL: "ftp://x" }, /^OLLAMA_URL must be an http\(s\) URL/],
    ["RUNPOD_ENDPOINT_ID", { RUNPOD_ENDPOINT_ID: "../x" }, /^RUNPOD_ENDPOINT_ID must be a RunPod endpoint id/],
    ["TRUST_PROXY_HOPS", { TRUST_PROXY_HOPS: "true" }, /^TRUST_PROXY_HOPS must be a whole number from 0 to 5 \(got "true"\)/],
    ["TRUST_PROXY_HOPS", { TRUST_PROXY_HOPS: "-1" }, /^TRUST_PROXY_HOPS must be a whole number from 0 to 5/],
    ["LOGIN_RATE_LIMIT_PER_MINUTE", { LOGIN_RATE_LIMIT_PER_MINUTE: "0" }, /^LOGIN_RATE_LIMIT_PER_MINUTE must be a whole number from 1 to 1000/],
    ["ADMIN_USERS", { ADMIN_USERS: "ada,../root" }, /^ADMIN_USERS must be comma-separated usernames/],
  ])("names %s when it is missing or bad", (_name, change, pattern) => {
    const found = problems({ ...base, ...change });
    expect(found.some((p) => pattern.test(p))).toBe(true);
  });

  it("never trusts X-Forwarded-For by default, and never quotes MONITORING_TOKEN back", () => {
    expect(parseWebEnv(base)).toMatchObject({ TRUST_PROXY_HOPS: 0, ADMIN_USERS: [], LOGIN_RATE_LIMIT_PER_MINUTE: 10 });
    expect(parseWebEnv({ ...base, ADMIN_USERS: " ada, bob ,," }).ADMIN_USERS).toEqual(["ada", "bob"]);
    const found = problems({ ...base, MONITORING_TOKEN: "short-secret-TOKENVALUE" });
    expect(found).toEqual(["MONITORING_TOKEN must be at least 32 characters long"]);
    expect(found.join("")).not.toContain("TOKENVALUE");
  });

  it("treats an empty value (FOO= in a dotenv file) as missing", () => {
    expect(problems({ ...base, METAHUMAN_ROOT: "" })).toContainEqual(expect.stringMatching(/^METAHUMAN_ROOT is required/));
  });

  it("runpod_serverless needs the API key and the endpoint id", () => {
    const found = problems({ ...base, LLM_PROVIDER: "runpod_serverless" });
    expect(found).toEqual([
      "RUNPOD_API_KEY is required when LLM_PROVIDER=runpod_serverless",
      "RUNPOD_ENDPOINT_ID is required when LLM_PROVIDER=runpod_serverless",
    ]);
    expect(parseWebEnv({ ...base, LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: SECRET, RUNPOD_ENDPOINT_ID: "abc123" }).RUNPOD_ENDPOINT_ID).toBe("abc123");
  });

  it("ollama and openai need a model; openai.com needs a key, a self-hosted server does not", () => {
    expect(problems({ ...base, LLM_PROVIDER: "ollama" })).toEqual([expect.stringMatching(/^LLM_MODEL is required when LLM_PROVIDER=ollama/)]);
    expect(problems({ ...base, LLM_PROVIDER: "openai", LLM_MODEL: "gpt-4o-mini" })).toEqual(["OPENAI_API_KEY is required when OPENAI_BASE_URL is api.openai.com"]);
    expect(parseWebEnv({ ...base, LLM_PROVIDER: "openai", LLM_MODEL: "m", OPENAI_BASE_URL: "http://127.0.0.1:8000/v1/" }).OPENAI_BASE_URL).toBe("http://127.0.0.1:8000/v1");
  });

  it("never puts a secret's value in a message", () => {
    const found = problems({ ...base, SESSION_SECRET: "tooshortsecret", RUNPOD_API_KEY: SECRET, LLM_PROVIDER: "runpod_serverless", OPENAI_API_KEY: SECRET, PORT: "x" });
    const all = found.join("\n");
    expect(all).toContain("SESSION_SECRET");
    expect(all).not.toContain("tooshortsecret");
    expect(all).not.toContain(SECRET);
    const error = (() => {
      try {
        parseWebEnv({ ...base, SESSION_SECRET: "tooshortsecret" });
      } catch (e) {
        return e as Error;
      }
    })()!;
    expect(error.message + String(error.stack)).not.toContain("tooshortsecret");
  });

  it("loads a dotenv file, lets the process env win, and does not touch process.env", () => {
    const dir = tempRoot();
    roots.push(dir);
    const file = path.join(dir, ".env.production");
    fs.writeFileSync(file, `LLM_PROVIDER=mock\nMETAHUMAN_ROOT=/from/file\nSESSION_SECRET=${"f".repeat(32)}\nPORT=5000\n`);
    const env = loadWebEnv({ dotenvPath: file, env: { PORT: "6000" } });
    expect(env).toMatchObject({ METAHUMAN_ROOT: "/from/file", PORT: 6000 });
    expect(process.env.METAHUMAN_ROOT).not.toBe("/from/file");
  });

  it("exports the schema for scripts/write-env", () => {
    expect(webEnvSchema.safeParse(base).success).toBe(true);
  });
});
