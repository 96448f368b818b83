// The Pulumi CLI as `npm run local` runs it: the repository's program in a project directory under the
// local data dir, a `file://` backend and PULUMI_HOME beside it, passphrase secrets, no update checks
// and no plugin downloads (the CLI and its plugins come from .tools/pulumi/bin, built by setup-pulumi.sh).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, symlink } from "node:fs/promises";
import path from "node:path";

export const PULUMI_PROJECT_ENTRIES = ["src", "node_modules", "package.json", "tsconfig.json"] as const;

export interface LocalPulumiOptions {
  repoRoot: string;
  /** Holds project/, state/ (the backend) and home/ (PULUMI_HOME); the caller owns its life. */
  dir: string;
  passphrase: string;
  /** Variables for every CLI call (RUNPOD_API_URL, RUNPOD_API_KEY). */
  env: Record<string, string>;
  /** Kills a running CLI call when aborted (Ctrl-C during start-up). */
  signal?: AbortSignal;
}

export class PulumiCliError extends Error {
  override name = "PulumiCliError";
}

export function pulumiBinDir(repoRoot: string): string {
  return path.join(repoRoot, ".tools", "pulumi", "bin");
}

export class LocalPulumi {
  readonly projectDir: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: LocalPulumiOptions) {
    this.projectDir = path.join(options.dir, "project");
    const binDir = pulumiBinDir(options.repoRoot);
    for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
      if (!existsSync(path.join(binDir, name))) {
        throw new PulumiCliError(`${path.join(binDir, name)} is missing: run \`bash scripts/setup-pulumi.sh\` (or \`bash scripts/setup.sh\`) first`);
      }
    }
    this.env = {
      // A developer's own RunPod or Pulumi settings (a real key, a cloud backend) must not reach the local stack.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RUNPOD_") && !k.startsWith("PULUMI_"))),
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: path.join(options.dir, "home"),
      PULUMI_BACKEND_URL: `file://${path.join(options.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: options.passphrase,
      // What docs/deploy.md's steps against the emulator export, nothing more: the Node.js runtime runs the program
      // with ts-node as it does for a person running `pulumi up` and in the workflows.
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      ...options.env,
    };
  }

  /**
   * A project directory that runs this repository's program: Pulumi.yaml copied (so Pulumi.<stack>.yaml lands
   * beside it, not in the working tree), the program and its dependencies linked.
   */
  async prepare(): Promise<void> {
    await Promise.all([mkdir(this.projectDir, { recursive: true }), mkdir(path.join(this.options.dir, "state"), { recursive: true }), mkdir(path.join(this.options.dir, "home"), { recursive: true })]);
    await copyFile(path.join(this.options.repoRoot, "Pulumi.yaml"), path.join(this.projectDir, "Pulumi.yaml"));
    for (const entry of PULUMI_PROJECT_ENTRIES) {
      const link = path.join(this.projectDir, entry);
      if (!existsSync(link)) await symlink(path.join(this.options.repoRoot, entry), link);
    }
  }

  /** `pulumi <args>`; resolves with stdout, or fails with the command and its output. */
  run(args: string[], input?: string): Promise<string> {
    const cli = path.join(pulumiBinDir(this.options.repoRoot), "pulumi");
    return new Promise((resolve, reject) => {
      if (this.options.signal?.aborted) return reject(new PulumiCliError(`pulumi ${args[0]} was not started: stopping`));
      // Without a terminal the CLI is non-interactive by itself, as in CI.
      const child: ChildProcess = spawn(cli, args, {
        cwd: this.projectDir,
        env: this.env,
        stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
      if (input !== undefined) child.stdin?.end(input);
      const onAbort = () => child.kill("SIGTERM");
      this.options.signal?.addEventListener("abort", onAbort, { once: true });
      let stdout = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
      child.stderr?.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
      child.once("error", (err) => reject(new PulumiCliError(`pulumi could not start: ${err.message}`)));
      child.once("close", (code, signal) => {
        this.options.signal?.removeEventListener("abort", onAbort);
        if (code === 0) return resolve(stdout);
        const output = `${stdout}\n${stderr}`.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").trim(); // without colour codes
        reject(new PulumiCliError(`pulumi ${args.join(" ")} ${signal ? `was stopped by ${signal}` : `exited ${code}`}:\n${output.slice(-4000)}`));
      });
    });
  }

  /** The value goes in on stdin, so a secret never shows in the process list or in an error message. */
  async setConfig(key: string, value: string, options: { secret?: boolean } = {}): Promise<void> {
    await this.run(["config", "set", ...(options.secret ? ["--secret"] : ["--plaintext"]), `metahuman:${key}`], value);
  }
}
