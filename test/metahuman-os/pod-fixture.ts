// The web pod as it runs on RunPod, on loopback: MetaHuman OS (built at the pin) behind the front door, the gateway,
// the real pod command (src/app/server/pod.ts) as a child process, against the emulator's endpoint.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { POD_COMMAND } from "../../src/app/server/command";
import { PASSWORD, TEST_SECRET } from "../app/helpers";
import { runpodServerEnv, waitFor, REPO } from "../app/server-child";
import { METAHUMAN_OS_APP } from "../prerequisites";
import { startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

export const MODEL = "echo/metahuman-test";

/**
 * The emulator with real SDK worker processes behind the pod's endpoint: "chat" answers at once (two workers, for a
 * chat's three jobs); "slow words" streams one word per 150 ms from one worker, so a chat's first job is still
 * running when the person stops it.
 */
export function workersEmulator(speed: "chat" | "slow words", idleTimeoutMs: number): Promise<RunningEmulator> {
  const env: Record<string, string> = speed === "chat" ? { ECHO_TOKEN_DELAY_MS: "0" } : { ECHO_TOKEN_DELAY_MS: "150", STREAM_BATCH_TOKENS: "1" };
  return startEmulator({ executor: "workers", workerPollWaitMs: 1000, workers: { idleTimeoutMs, env } }, { workersMax: speed === "chat" ? 2 : 1 });
}

/** Stops what a suite started, the pod first (it holds jobs on the emulator); either may be missing. */
export async function stopPodAndEmulator(pod: RunningPod | undefined, emu: RunningEmulator | undefined): Promise<void> {
  await pod?.stop();
  await emu?.close();
}

export interface RunningPod {
  url: string;
  root: string;
  proc: ChildProcess;
  output(): string;
  /** MetaHuman OS's process (the pod's child). */
  metahumanPid(): number;
  stop(): Promise<void>;
}

/** A port nobody listens on now (for the loopback-only listeners the pod opens itself). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPod(emu: RunningEmulator, options: { users?: string[]; env?: Record<string, string>; root?: string } = {}): Promise<RunningPod> {
  const root = options.root ?? fs.mkdtempSync(path.join(os.tmpdir(), "mh-pod-"));
  const paths = MetaHumanPaths.open(root);
  for (const user of options.users ?? ["ada"]) await setPassword(paths, user, PASSWORD);
  const env = runpodServerEnv(emu, root, {
    METAHUMAN_OS_DIR: METAHUMAN_OS_APP,
    LLM_MODEL: MODEL,
    METAHUMAN_OS_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    SESSION_SECRET: TEST_SECRET,
    ...options.env,
  });
  const [, ...args] = POD_COMMAND;
  const proc = spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (c) => (out += c));
  proc.stderr!.on("data", (c) => (out += c));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const listening = /web pod listening on (http:\/\/127\.0\.0\.1:\d+)/;
  await waitFor(() => listening.test(out) || proc.exitCode !== null, "the pod's listening line", 90_000);
  const match = listening.exec(out);
  if (!match) throw new Error(`the pod did not start:\n${out}`);
  return {
    url: match[1]!,
    root,
    proc,
    output: () => out,
    metahumanPid() {
      const children = fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
      const pid = children.find((child) => fs.readFileSync(`/proc/${child}/cmdline`, "utf8").includes("entry.mjs"));
      if (!pid) throw new Error("MetaHuman OS's process is not a child of the pod");
      return pid;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Logs in at the front door; returns the cookie header that carries the door's session. */
export async function doorLogin(url: string, username = "ada", password = PASSWORD): Promise<string> {
  const response = await fetch(`${url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  if (!response.ok) throw new Error(`door login failed: ${response.status} ${await response.text()}`);
  return response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}

/** The cookies a response sets, merged into a cookie header (later values win). */
export function withCookies(header: string, response: Response): string {
  const jar = new Map(header.split(/;\s*/).filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair] as const));
  for (const line of response.headers.getSetCookie()) {
    const pair = line.split(";")[0]!;
    jar.set(pair.slice(0, pair.indexOf("=")), pair);
  }
  return [...jar.values()].join("; ");
}

/** Runs the pod's command on a root made beforehand (nothing added to it) until it exits; for starts it must refuse. */
export async function runPodUntilExit(emu: RunningEmulator, root: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const podEnv = runpodServerEnv(emu, root, {
    METAHUMAN_OS_DIR: METAHUMAN_OS_APP,
    LLM_MODEL: MODEL,
    METAHUMAN_OS_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    SESSION_SECRET: TEST_SECRET,
    ...env,
  });
  const [, ...args] = POD_COMMAND;
  const proc = spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? "", ...podEnv }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout!.on("data", (c) => (output += c));
  proc.stderr!.on("data", (c) => (output += c));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => proc.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

/** Every file under a folder, with its text. */
export function filesUnder(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.push({ file, text: fs.readFileSync(file, "latin1") });
  }
  return out;
}
