// langchain-runpod (PyPI, its own venv .tools/langchain-runpod: it pins old httpx and langchain-core) against
// `npm run emulator` with real SDK workers (issue 17): it sends worker-vllm's {"input": {"prompt": ...}} and reads
// worker-vllm's output list, so each answer must be the echo of its prompt, not an error.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, startEmulatorCommand, type EmulatorCommand } from "./emulator-command";

const PYTHON = path.join(REPO_ROOT, ".tools/langchain-runpod/bin/python");

describe("langchain-runpod against npm run emulator", () => {
  let emu: EmulatorCommand;
  let home: string;

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash scripts/setup-python.sh\` (installs langchain-runpod from test/requirements-langchain-runpod.txt)`);
    emu = await startEmulatorCommand({ env: { ECHO_TOKEN_DELAY_MS: "5" } });
    home = mkdtempSync(path.join(tmpdir(), "langchain-runpod-home-"));
  });
  afterAll(async () => {
    if (emu) expect(await emu.interrupt()).toBe(0);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("its LLM, its stream and its chat model get the echo of their prompts from real SDK workers", async () => {
    const child = spawn(PYTHON, [path.join(REPO_ROOT, "test/clients/langchain_runpod_calls.py")], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, LANG: "C.UTF-8", EMULATOR_SERVERLESS_URL: emu.serverlessUrl, RUNPOD_API_KEY: emu.apiKey, RUNPOD_ENDPOINT_ID: emu.endpointId },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, err).toBe(0);
    const answers = JSON.parse(out.trim().split("\n").at(-1)!) as { llm: string; llm_stream: string; chat: string; chat_usage: { input_tokens: number; output_tokens: number } | null };
    expect(answers.llm).toBe("hello from langchain");
    expect(answers.llm_stream).toBe("streamed through langchain");
    // ChatRunPod folds the chat into one prompt ("System: ...\nUser: ..."); the echo engine answers it word by word.
    expect(answers.chat).toBe("System: be brief User: a chat from langchain");
    // What reached the worker: worker-vllm's prompt field, never our messages.
    const jobs = (await (await fetch(`${emu.origin}/_emulator/jobs?endpointId=${emu.endpointId}`, { headers: { authorization: `Bearer ${emu.apiKey}` } })).json()) as Array<{ status: string; input: Record<string, unknown> }>;
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      expect(job.status).toBe("COMPLETED");
      expect(Object.keys(job.input).sort()).toEqual(["max_tokens", "prompt", "temperature"]);
    }
  }, 120_000);
});
