// `npm run emulator` as a user runs it, for the client tests: the command in its own process group, its
// printed URLs, key and endpoint id, and a Ctrl-C (SIGINT to the whole group) that must leave no process.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { processesTagged, until } from "../e2e/local-helpers";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export interface EmulatorCommand {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** RUNPOD_SERVERLESS_URL: `${origin}/v2` */
  serverlessUrl: string;
  apiKey: string;
  endpointId: string;
  /** METAHUMAN_LOCAL_TAG of the command and its worker processes. */
  tag: string;
  child: ChildProcess;
  /** Everything the command printed so far. */
  output(): string;
  /** Ctrl-C: SIGINT to the command's process group; resolves with its exit code once no tagged process is left. */
  interrupt(): Promise<number | null>;
}

/** The command's environment: a clean one, as a fresh shell gives it, plus what the caller sets. */
export function commandEnv(tag: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? REPO_ROOT,
    LANG: process.env.LANG ?? "C.UTF-8",
    METAHUMAN_LOCAL_TAG: tag,
    ...extra,
  };
}

/** Runs `npm run emulator -- <args>` in the repository and collects its output. */
export function spawnEmulatorCommand(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn("npm", ["run", "emulator", "--", ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let text = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => text, exited };
}

export async function startEmulatorCommand(options: { env?: Record<string, string>; args?: string[] } = {}): Promise<EmulatorCommand> {
  const tag = `clients-${randomBytes(6).toString("hex")}`;
  const apiKey = `test-${randomBytes(8).toString("hex")}`;
  const { child, output, exited } = spawnEmulatorCommand(["--port", "0", ...(options.args ?? [])], commandEnv(tag, { RUNPOD_API_KEY: apiKey, ...options.env }));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  await until("npm run emulator to print its endpoint", () => {
    if (exitCode !== undefined) throw new Error(`npm run emulator exited (${exitCode}) before it was ready:\n${output()}`);
    return output().includes("Press Ctrl-C");
  }, 60_000);
  const origin = /local RunPod listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
  const endpointId = /RUNPOD_ENDPOINT_ID=(\S+)/.exec(output())?.[1];
  if (!origin || !endpointId) throw new Error(`npm run emulator printed no URL or endpoint id:\n${output()}`);
  return {
    origin,
    serverlessUrl: `${origin}/v2`,
    apiKey,
    endpointId,
    tag,
    child,
    output,
    async interrupt() {
      try {
        process.kill(-child.pid!, "SIGINT");
      } catch {
        // Already gone.
      }
      const code = await exited;
      await until(`no process tagged ${tag} left`, () => processesTagged(tag).length === 0, 10_000);
      return code;
    },
  };
}

/** The text of a job that does not stream, in worker-vllm's shape: `[{choices: [{tokens: [text]}], usage: {input, output}}]`. */
export function outputText(output: unknown): string {
  const [first, ...rest] = Array.isArray(output) ? (output as Array<{ choices?: Array<{ tokens?: unknown }>; usage?: unknown }>) : [];
  const tokens = first?.choices?.[0]?.tokens;
  if (rest.length > 0 || !Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
    throw new Error(`not worker-vllm's output shape: ${JSON.stringify(output)}`);
  }
  return tokens.join("");
}
