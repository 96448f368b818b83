// Runs the real Pulumi CLI against the local RunPod emulator.
//
// Each project is a temporary directory that mirrors the repository (Pulumi.yaml copied; src, node_modules,
// package.json and tsconfig.json linked), so the CLI runs this repository's program while Pulumi.<stack>.yaml,
// the `file://` backend and PULUMI_HOME stay out of the working tree. The emulator runs in this process on a
// loopback port; the CLI, its language host and the dynamic-provider plugin are child processes that reach
// it over HTTP.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const PULUMI_BIN_DIR = path.join(REPO_ROOT, ".tools", "pulumi", "bin");
export const PULUMI_PROJECT = "metahuman-runpod";

/** Fails with the command that fixes it when the setup script has not put the CLI in place. */
export function pulumiBinary(): string {
  const cli = path.join(PULUMI_BIN_DIR, "pulumi");
  for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
    if (!existsSync(path.join(PULUMI_BIN_DIR, name))) {
      throw new Error(`${path.join(PULUMI_BIN_DIR, name)} is missing: run \`bash scripts/setup-pulumi.sh\` first`);
    }
  }
  return cli;
}

export interface RunningEmulator {
  app: FastifyInstance;
  apiKey: string;
  /** RUNPOD_API_URL: `http://127.0.0.1:PORT` (clients append /v2/...). */
  origin: string;
  /** RUNPOD_SERVERLESS_URL: `http://127.0.0.1:PORT/v2`. */
  serverlessUrl: string;
  close(): Promise<void>;
}

export async function startEmulator(apiKey = `e2e-key-${randomBytes(12).toString("hex")}`): Promise<RunningEmulator> {
  const app = await buildEmulator({ apiKey });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  return { app, apiKey, origin, serverlessUrl: `${origin}/v2`, close: () => app.close() };
}

export interface ApiResponse {
  status: number;
  body: any;
}

/** One call to the emulator over HTTP, as a client of RunPod would make it. */
export async function api(emu: RunningEmulator, method: string, urlPath: string, body?: unknown): Promise<ApiResponse> {
  const res = await fetch(`${emu.origin}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${emu.apiKey}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text for the failure message */ }
  return { status: res.status, body: parsed };
}

/** GET a REST v2 list and return its items, whether the emulator answers with an array or `{items}`-style. */
export async function list(emu: RunningEmulator, urlPath: string): Promise<any[]> {
  const res = await api(emu, "GET", urlPath);
  if (res.status !== 200) throw new Error(`GET ${urlPath} answered ${res.status}: ${JSON.stringify(res.body)}`);
  if (Array.isArray(res.body)) return res.body;
  const arrays = Object.values(res.body ?? {}).filter(Array.isArray);
  if (arrays.length === 1) return arrays[0] as any[];
  throw new Error(`GET ${urlPath} answered neither an array nor one list: ${JSON.stringify(res.body)}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for messages and assertions on text. */
  output: string;
}

export interface ProjectOptions {
  emulator: RunningEmulator;
  /** Stack name; unique per project by default. */
  stack?: string;
  /** Extra environment for every CLI call. */
  env?: Record<string, string>;
}

export class PulumiProject {
  readonly stack: string;
  readonly passphrase = `e2e-passphrase-${randomBytes(8).toString("hex")}`;

  private constructor(
    readonly dir: string,
    readonly projectDir: string,
    readonly backendDir: string,
    private readonly env: NodeJS.ProcessEnv,
    stack: string,
  ) {
    this.stack = stack;
  }

  /** Makes the project directory and backend, logs in to the backend, and creates the stack. */
  static async create(options: ProjectOptions): Promise<PulumiProject> {
    pulumiBinary();
    const dir = await mkdtemp(path.join(tmpdir(), "metahuman-e2e-"));
    const projectDir = path.join(dir, "project");
    const backendDir = path.join(dir, "state");
    const home = path.join(dir, "pulumi-home");
    await Promise.all([mkdir(projectDir), mkdir(backendDir), mkdir(home)]);
    await copyFile(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
    for (const entry of ["src", "node_modules", "package.json", "tsconfig.json"]) {
      await symlink(path.join(REPO_ROOT, entry), path.join(projectDir, entry));
    }
    const stack = options.stack ?? `e2e-${randomBytes(4).toString("hex")}`;
    // Only what docs/deploy.md's "The same steps against the local emulator" exports (the backend, the passphrase, the
    // update check, plugin acquisition, the emulator's URLs and key, PATH), and nothing that changes how Pulumi runs
    // the program: its Node.js runtime runs it with ts-node and src/tsconfig.json, as for a user and in the workflows.
    // PULUMI_HOME only moves ~/.pulumi into the throwaway directory, as a fresh machine has it.
    const env: NodeJS.ProcessEnv = {
      ...withoutRunpodAndPulumiVars(process.env),
      PATH: `${PULUMI_BIN_DIR}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${backendDir}`,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      RUNPOD_API_URL: options.emulator.origin,
      RUNPOD_SERVERLESS_URL: options.emulator.serverlessUrl,
      ...options.env,
    };
    const project = new PulumiProject(dir, projectDir, backendDir, env, stack);
    project.env.PULUMI_CONFIG_PASSPHRASE = project.passphrase;
    await project.ok(["stack", "init", stack, "--secrets-provider", "passphrase"]);
    // The images have no default; the emulator pulls none (docs/deploy.md's emulator steps set these too).
    await project.setAllConfig({ workerImage: "localhost/metahuman-worker:local", webImage: "localhost/metahuman-web:local" });
    return project;
  }

  /** Runs `pulumi <args>` in the project; resolves with the exit code, never throws on a non-zero one. */
  run(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    const cli = pulumiBinary();
    return new Promise((resolve, reject) => {
      // No flags of our own: without a terminal the CLI is non-interactive by itself, as in CI.
      const child = spawn(cli, args, {
        cwd: this.projectDir,
        env: { ...this.env, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
      child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
      child.on("error", reject);
      child.on("close", (code, signal) => {
        stdout = withoutAnsi(stdout);
        stderr = withoutAnsi(stderr);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, output: `${stdout}\n${stderr}` });
      });
    });
  }

  /** Runs `pulumi <args>` and fails with its whole output unless it exits 0. */
  async ok(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    const result = await this.run(args, extraEnv);
    if (result.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${result.code}:\n${result.output}`);
    }
    return result;
  }

  async setConfig(key: string, value: string, options: { secret?: boolean } = {}): Promise<void> {
    // `--` keeps values that start with a dash from being read as flags.
    await this.ok(["config", "set", ...(options.secret ? ["--secret"] : ["--plaintext"]), `metahuman:${key}`, "--", value]);
  }

  async setAllConfig(values: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(values)) await this.setConfig(key, value);
  }

  /** `pulumi preview --json`: the engine's plan. */
  async previewJson(): Promise<PreviewJson> {
    const result = await this.ok(["preview", "--json", "--diff"]);
    return JSON.parse(result.stdout) as PreviewJson;
  }

  async outputs(options: { showSecrets?: boolean } = {}): Promise<Record<string, any>> {
    const result = await this.ok(["stack", "output", "--json", ...(options.showSecrets ? ["--show-secrets"] : [])]);
    return JSON.parse(result.stdout) as Record<string, any>;
  }

  /** `pulumi stack export`: the checkpoint the backend holds, secrets still encrypted. */
  async exportState(): Promise<any> {
    return JSON.parse((await this.ok(["stack", "export"])).stdout);
  }

  /** The raw file the `file://` backend wrote for this stack. */
  stateFilePath(): string {
    return path.join(this.backendDir, ".pulumi", "stacks", PULUMI_PROJECT, `${this.stack}.json`);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { type: string; inputs?: Record<string, any>; outputs?: Record<string, any> };
  newState?: { type: string; inputs?: Record<string, any>; outputs?: Record<string, any> };
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }>;
}

export interface PreviewJson {
  steps: PreviewStep[];
  changeSummary: Record<string, number>;
  diagnostics?: { message: string; severity: string; urn?: string }[];
}

/** The last `::`-separated part of a URN: the resource's name. */
export function urnName(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The type token of a URN (`pulumi-nodejs:dynamic:Resource` for dynamic resources). */
export function urnType(urn: string): string {
  const parts = urn.split("::");
  const qualified = parts[2] ?? "";
  return qualified.slice(qualified.lastIndexOf("$") + 1);
}

/** Text without terminal colour codes (the CLI colours its output unless told not to; tests read the words). */
export function withoutAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}

// A developer's own RunPod or Pulumi settings must not leak into the suite (a real key, a cloud backend).
function withoutRunpodAndPulumiVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("RUNPOD_") || k.startsWith("PULUMI_")) continue;
    out[k] = v;
  }
  return out;
}
