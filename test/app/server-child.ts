// The real server command (the Dockerfile's CMD) as a child process, for tests that need the process
// itself: its exit code, its signals, a user it runs as.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { SERVER_COMMAND } from "../../src/app/server/command";
import { API_KEY, type RunningEmulator } from "../serverless/emulator-fixture";
import { TEST_SECRET } from "./helpers";

export const REPO = path.resolve(__dirname, "../..");

export interface ServerChild {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** The base URL from the listening line. */
  url(): Promise<string>;
}

/** The web pod's env for a server on loopback whose LLM is the emulator's endpoint and whose volume is `root`. */
export function runpodServerEnv(emu: RunningEmulator, root: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LLM_PROVIDER: "runpod_serverless",
    RUNPOD_API_KEY: API_KEY,
    RUNPOD_ENDPOINT_ID: emu.endpoint.id,
    RUNPOD_SERVERLESS_URL: emu.serverlessUrl,
    METAHUMAN_ROOT: root,
    SESSION_SECRET: TEST_SECRET,
    HOST: "127.0.0.1",
    PORT: "0",
    NODE_ENV: "test",
    ...extra,
  };
}

/**
 * Exactly the image's command ("node" is this node), from the repo root like WORKDIR /app, with only
 * what the test sets plus PATH. `uid` runs it as that user (with setpriv, as the image's entrypoint does).
 */
export function startServer(env: Record<string, string>, options: { uid?: number } = {}): ServerChild {
  const [, ...args] = SERVER_COMMAND;
  const asUser = options.uid !== undefined ? ["setpriv", `--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", "--"] : [];
  const [file, ...argv] = [...asUser, process.execPath, ...args];
  const proc = spawn(file!, argv, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c) => (out += c));
  proc.stderr!.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    async url() {
      await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out) || proc.exitCode !== null, "the listening line");
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!match) throw new Error(`the server did not start:\n${out}`);
      return match[1]!;
    },
  };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
