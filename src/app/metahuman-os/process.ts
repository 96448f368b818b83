// MetaHuman OS's own server (the built apps/site, unmodified) as a child of the web pod's process, on loopback only:
// the front door is the only way in. Its environment is built from a short list, never copied from ours, so the
// RunPod key and the session secret cannot reach it; it holds only the gateway's token (OPENAI_API_KEY).
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface MetahumanOsProcessOptions {
  /** The built MetaHuman OS (scripts/metahuman-os/build.sh): holds apps/site/dist/server/entry.mjs and node_modules. */
  appDir: string;
  /** METAHUMAN_ROOT, on the volume (checked by the caller before this starts). */
  root: string;
  port: number;
  /** The gateway's bearer token, MetaHuman OS's OPENAI_API_KEY. */
  gatewayToken: string;
  nodeEnv: string;
  /** Lines MetaHuman OS prints go here (the pod's log). */
  log: (line: string) => void;
  /** How long its server may take to answer its first request (default 60 s). */
  startTimeoutMs?: number;
}

export interface MetahumanOsProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Variables MetaHuman OS may see from our environment, besides those set below (METAHUMAN_LOCAL_TAG: `npm run local`
 * marks its processes so that a check can find every one it started).
 */
const PASSED_THROUGH = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "METAHUMAN_LOCAL_TAG"] as const;

export function entryOf(appDir: string): string {
  return path.join(appDir, "apps", "site", "dist", "server", "entry.mjs");
}

export function metahumanOsEnv(options: MetahumanOsProcessOptions, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_THROUGH) if (from[name] !== undefined) env[name] = from[name];
  return {
    ...env,
    HOME: path.join(options.root, ".home"),
    NODE_ENV: options.nodeEnv === "test" ? "production" : options.nodeEnv,
    HOST: "127.0.0.1",
    PORT: String(options.port),
    METAHUMAN_ROOT: options.root,
    OPENAI_API_KEY: options.gatewayToken,
  };
}

export async function startMetahumanOs(options: MetahumanOsProcessOptions): Promise<MetahumanOsProcess> {
  const entry = entryOf(options.appDir);
  if (!fs.existsSync(entry)) {
    throw new Error(`MetaHuman OS is not built in ${options.appDir} (no ${path.relative(options.appDir, entry)}); run scripts/setup-metahuman-os.sh`);
  }
  const env = metahumanOsEnv(options);
  fs.mkdirSync(env.HOME!, { recursive: true });
  const child = spawn(process.execPath, [entry], { cwd: options.appDir, env, stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.log(line);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.setEncoding("utf8").on("data", (data: string) => {
      const lines = (rest + data).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onLine(line);
    });
  }
  // MetaHuman OS never outlives the pod's process (a restarted pod would find its port taken).
  const killChild = () => child.kill("SIGTERM");
  process.once("exit", killChild);
  child.once("exit", () => process.off("exit", killChild));
  const url = `http://127.0.0.1:${options.port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let ready = false;
  while (!ready) {
    if (child.exitCode !== null) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`MetaHuman OS did not answer on ${url} within ${options.startTimeoutMs ?? 60_000} ms; its last lines:\n${tail.join("\n")}`);
    }
    ready = await fetch(`${url}/`, { redirect: "manual", signal: AbortSignal.timeout(2_000) }).then(() => true, () => false);
    if (!ready) await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  if (!ready) throw new Error(`MetaHuman OS exited with code ${child.exitCode} before it answered; its last lines:\n${tail.join("\n")}`);
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
