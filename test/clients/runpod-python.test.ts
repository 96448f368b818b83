// runpod-python's `runpod.Endpoint` (run_sync, run, status, output, stream, cancel, purge_queue, health) against
// `npm run emulator` with a real SDK worker: test_runpod_python.py runs in the worker venv's pytest, pointed at
// the command's printed URL; each test there is one client call path.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, startEmulatorCommand, type EmulatorCommand } from "./emulator-command";

const PYTEST_FILE = "test/clients/test_runpod_python.py";
const EXPECTED_TESTS = 6;

describe("runpod-python's Endpoint client against npm run emulator", () => {
  let emu: EmulatorCommand;
  let home: string;

  beforeAll(async () => {
    emu = await startEmulatorCommand({ env: { ECHO_TOKEN_DELAY_MS: "20" } });
    home = mkdtempSync(path.join(tmpdir(), "runpod-python-home-"));
  });
  afterAll(async () => {
    expect(await emu.interrupt()).toBe(0);
    rmSync(home, { recursive: true, force: true });
  });

  it(`passes its ${EXPECTED_TESTS} calls, none skipped`, async () => {
    const child = spawn(path.join(REPO_ROOT, ".venv/bin/python"), ["-m", "pytest", "-v", "-p", "no:cacheprovider", PYTEST_FILE], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        // No ~/.runpod/config.toml of the person running the tests.
        HOME: home,
        LANG: "C.UTF-8",
        EMULATOR_SERVERLESS_URL: emu.serverlessUrl,
        // Every RunPod URL the package reads points at the emulator (Endpoint uses only the first).
        RUNPOD_ENDPOINT_BASE_URL: emu.serverlessUrl,
        RUNPOD_API_BASE_URL: emu.origin,
        RUNPOD_API_KEY: emu.apiKey,
        RUNPOD_ENDPOINT_ID: emu.endpointId,
        RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
        RUNPOD_SKIP_GPU_CHECK: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, output).toBe(0);
    expect(output).toMatch(new RegExp(`\\b${EXPECTED_TESTS} passed\\b`));
    expect(output).not.toMatch(/skipped|xfail/);
    // The emulator saw the SDK's own requests: the cancel and the purge went through, as jobs and in /health.
    const jobs = (await (await fetch(`${emu.origin}/_emulator/jobs?endpointId=${emu.endpointId}`, { headers: { authorization: `Bearer ${emu.apiKey}` } })).json()) as Array<{ status: string }>;
    expect(jobs.filter((j) => j.status === "CANCELLED")).toHaveLength(1);
  }, 180_000);
});
