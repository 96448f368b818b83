// The whole system on one machine, as `npm run local` starts it:
//   1. the local RunPod (emulator) on loopback, with real SDK worker processes running the echo engine;
//   2. `pulumi up` of stack `local` against it (the real CLI and the real program);
//   3. the web pod's env from the stack outputs (.local/web.env), with local overrides;
//   4. the web server as a child process on that env, and a login user.
// `stop()` takes it all down again: web server, emulator, every worker process.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import net from "node:net";
import path from "node:path";
import * as dotenv from "dotenv";
import type { FastifyInstance } from "fastify";
import { envFileFromOutputs } from "../app/env-file";
import { writeFileAtomic } from "../common/atomic-file";
import { MetaHumanPaths } from "../app/paths";
import { readAccount, setPassword } from "../app/server/auth/accounts";
import { POD_COMMAND } from "../app/server/command";
import { startS3Listener, type S3Listener } from "../emulator/s3/s3-api";
import { hasS3Api, S3_DATA_CENTERS } from "../runpod/s3-endpoints";
import { buildEmulator } from "../emulator/emulator";
import { parseStackConfig } from "../infra/config";
import { LocalPulumi } from "./local-pulumi";
import type { WorkerManager } from "../emulator/worker-manager";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const LOCAL_STACK = "local";
export const DEFAULT_WEB_PORT = 4321;
export const DEFAULT_EMULATOR_PORT = 8787;
export const LOCAL_USERNAME = "demo";
/** The local stack's image settings: the emulator runs the worker from handler/ and pulls nothing. */
export const LOCAL_IMAGES = { workerImage: "localhost/metahuman-worker:local", webImage: "localhost/metahuman-web:local" } as const;
/** Worker processes of a local stack carry this variable, so a check can find every one of them. */
export const LOCAL_TAG_VARIABLE = "METAHUMAN_LOCAL_TAG";

/**
 * What the local web pod's env changes in the stack's `webEnv`: every RunPod API it calls is the emulator's
 * (the job API and the billing API behind the spend view: the local key must never reach the real RunPod),
 * its volume is a folder, and it serves plain http on loopback.
 */
export function localWebEnvOverrides(args: {
  emulatorUrl: string; volumeDir: string; webPort: number;
  /** MetaHuman OS built at the pin (scripts/setup-metahuman-os.sh) and its two loopback ports (MetaHuman OS, gateway). */
  metahumanOs?: { dir: string; port: number; gatewayPort: number };
}): Record<string, string> {
  return {
    ...(args.metahumanOs ? {
      METAHUMAN_OS_DIR: args.metahumanOs.dir,
      METAHUMAN_OS_PORT: String(args.metahumanOs.port),
      GATEWAY_PORT: String(args.metahumanOs.gatewayPort),
    } : {}),
    METAHUMAN_ROOT: args.volumeDir,
    RUNPOD_SERVERLESS_URL: `${args.emulatorUrl}/v2`,
    RUNPOD_API_URL: args.emulatorUrl,
    HOST: "127.0.0.1",
    PORT: String(args.webPort),
    // Plain http on loopback: cookies without Secure.
    NODE_ENV: "development",
    // The person running it locally administers it: their login also shows health details and /metrics.
    ADMIN_USERS: LOCAL_USERNAME,
  };
}

export interface LocalStackOptions {
  /** The repository (program, handler, venv, Pulumi CLI). Default: this checkout. */
  repoRoot?: string;
  /** Local data: stack state, generated secrets, web.env, logs and the volume. Default `<repo>/.local`. */
  dataDir?: string;
  /** Web server port on 127.0.0.1; 0 picks a free one. Default 4321. */
  webPort?: number;
  /** Emulator port on 127.0.0.1; 0 picks a free one. Default 8787. */
  emulatorPort?: number;
  /** Overrides the endpoint's idleTimeout (the stack's, 5 s by default) for scale-to-zero. */
  idleTimeoutMs?: number;
  /** Extra worker env, e.g. ECHO_TOKEN_DELAY_MS, STREAM_BATCH_TOKENS. ENGINE is always `echo`. */
  workerEnv?: Record<string, string>;
  /** Copy worker output to stderr. */
  logWorkers?: boolean;
  /** Marks this stack's worker processes (env LOCAL_TAG_VARIABLE). Default: random. */
  tag?: string;
  /** Progress lines for a person ("starting the emulator", ...). */
  onStep?: (message: string) => void;
  /** Aborting stops start-up (kills a running `pulumi`), cleans up and rejects. */
  signal?: AbortSignal;
}

export interface LocalStack {
  emulator: FastifyInstance;
  /** RUNPOD_API_URL of the emulator (`http://127.0.0.1:PORT`). */
  emulatorUrl: string;
  /** RunPod's S3 API of the volume's data center, at the root of a listener of its own (`npm run volume`). */
  s3Url: string;
  /** The emulator's API key, generated for this run. */
  apiKey: string;
  workers: WorkerManager;
  endpointId: string;
  webUrl: string;
  user: { username: string; password: string; created: boolean };
  dataDir: string;
  /** METAHUMAN_ROOT: kept between runs. */
  volumeDir: string;
  envFile: string;
  /** RUNPOD_S3_* and RUNPOD_VOLUME_ID for `npm run volume` against this stack's volume (mode 0600). */
  volumeEnvFile: string;
  webLog: string;
  tag: string;
  /** Resolves when the web server exits on its own (a crash): the code, or the signal's name. */
  webExited: Promise<number | string>;
  stop(): Promise<void>;
}

export class LocalStackError extends Error {
  override name = "LocalStackError";
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const dataDir = path.resolve(options.dataDir ?? path.join(repoRoot, ".local"));
  const webPort = options.webPort ?? DEFAULT_WEB_PORT;
  const emulatorPort = options.emulatorPort ?? DEFAULT_EMULATOR_PORT;
  const step = options.onStep ?? (() => {});
  const tag = options.tag ?? randomBytes(8).toString("hex");
  const python = path.join(repoRoot, ".venv", "bin", "python");
  if (!existsSync(python)) throw new LocalStackError(`${python} is missing: run \`bash scripts/setup.sh\` first (it builds the worker's virtualenv)`);

  const metahumanOsDir = path.join(repoRoot, ".tools", "metahuman-os", "app");
  if (!existsSync(path.join(metahumanOsDir, "apps", "site", "dist", "server", "entry.mjs"))) {
    throw new LocalStackError(`MetaHuman OS is not built in ${metahumanOsDir}: run \`bash scripts/setup.sh\` first (it builds MetaHuman OS at its pinned commit; offline, set METAHUMAN_OS_SOURCE)`);
  }
  await assertPortFree(webPort, "the web server", "PORT");
  await assertPortFree(emulatorPort, "the local RunPod emulator", "RUNPOD_EMULATOR_PORT");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  let emulator: FastifyInstance | undefined;
  let web: WebChild | undefined;
  let s3: S3Listener | undefined;
  const cleanup = async () => {
    await web?.stop();
    await s3?.close();
    await emulator?.close();
  };
  try {
    step("starting the local RunPod emulator (REST v2, job API, worker protocol)");
    const apiKey = `local-${randomBytes(16).toString("hex")}`;
    // RunPod's S3 API for the volume (`npm run volume`): the local stack's volume is the one folder below.
    const s3Key = { accessKeyId: "user_local", secretAccessKey: `rps_${keptSecret(path.join(dataDir, "s3-secret"))}` };
    emulator = await buildEmulator({
      apiKey,
      s3: { keys: [s3Key], volumeFolder: () => path.join(dataDir, "volume") },
      jobs: {
        executor: "workers",
        workers: {
          python,
          handler: path.join(repoRoot, "handler", "handler.py"),
          cwd: repoRoot,
          ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
          // The stack declares ENGINE=vllm and a Hugging Face model for RunPod's GPUs; here there is no GPU
          // and no model download, so the same handler runs its echo engine through the same code path.
          // The model the stack serves is looked up in the volume's cache as vLLM would: a pushed one is logged.
          env: { HF_HUB_CACHE: path.join(dataDir, "volume", "huggingface-cache", "hub"), ECHO_CACHED_MODEL: parseStackConfig({}).model,
            ...options.workerEnv, ENGINE: "echo", [LOCAL_TAG_VARIABLE]: tag },
          log: options.logWorkers ?? false,
        },
      },
    });
    const emulatorUrl = await emulator.listen({ host: "127.0.0.1", port: emulatorPort }).catch((err: NodeJS.ErrnoException) => {
      throw new LocalStackError(`the emulator cannot listen on 127.0.0.1:${emulatorPort} (${err.code ?? err.message}): set RUNPOD_EMULATOR_PORT to a free port`);
    });

    step(`running \`pulumi up\` of stack "${LOCAL_STACK}" against the emulator (the real Pulumi CLI and program)`);
    const outputs = await pulumiUpLocal({ repoRoot, dataDir, apiKey, emulatorUrl, signal: options.signal });
    const endpointId = String(outputs.endpointId);

    step("writing the web pod's env from the stack outputs");
    const volumeDir = path.join(dataDir, "volume", "metahuman");
    mkdirSync(volumeDir, { recursive: true });
    const envFile = path.join(dataDir, "web.env");
    // MetaHuman OS and the gateway listen on loopback ports of their own, picked free at each start.
    const metahumanOs = { dir: metahumanOsDir, port: await freePort(), gatewayPort: await freePort() };
    await writeFileAtomic(envFile, envFileFromOutputs(outputs, localWebEnvOverrides({ emulatorUrl, volumeDir, webPort, metahumanOs })));

    // RunPod serves a data center's S3 API at the root of its own host: so does the emulator, on its own port.
    step(`starting the S3 API of ${String(outputs.dataCenter)} (RunPod's, for the volume)`);
    if (!hasS3Api(String(outputs.dataCenter))) throw new LocalStackError(`the stack's data center ${String(outputs.dataCenter)} has no S3 API on RunPod; pick one of ${S3_DATA_CENTERS.join(", ")}`);
    s3 = await startS3Listener(emulator.s3Api!, String(outputs.dataCenter));
    const s3Url = s3.url;
    // What `npm run volume` needs to reach this volume: `set -a; . .local/volume.env; set +a`.
    const volumeEnvFile = path.join(dataDir, "volume.env");
    await writeFileAtomic(volumeEnvFile, [
      `RUNPOD_S3_ENDPOINT_URL=${s3Url}`, `RUNPOD_VOLUME_ID=${String(outputs.volumeId)}`, `RUNPOD_DATA_CENTER=${String(outputs.dataCenter)}`,
      `RUNPOD_S3_ACCESS_KEY_ID=${s3Key.accessKeyId}`, `RUNPOD_S3_SECRET_ACCESS_KEY=${s3Key.secretAccessKey}`, "",
    ].join("\n"));

    const user = await ensureLoginUser(MetaHumanPaths.open(volumeDir), dataDir);

    step("starting the web server");
    const webLog = path.join(dataDir, "web.log");
    web = await startWebServer({ repoRoot, envFile, logFile: webLog, tag, signal: options.signal });
    const webUrl = web.url;
    const workers = emulator.jobSystem.executor as WorkerManager;
    let stopping: Promise<void> | undefined;
    const emu = emulator;
    const server = web;
    const s3Listener = s3;
    return {
      emulator: emu,
      emulatorUrl,
      s3Url,
      apiKey,
      workers,
      endpointId,
      webUrl,
      user,
      dataDir,
      volumeDir,
      envFile,
      volumeEnvFile,
      webLog,
      tag,
      webExited: server.exited,
      stop() {
        stopping ??= (async () => {
          // The web server first, so no chat starts a job on an emulator that is going away.
          await server.stop();
          await s3Listener.close();
          await emu.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    if (options.signal?.aborted) throw new LocalStackError("start-up was interrupted; everything that had started is stopped");
    throw err;
  }
}

/**
 * `pulumi up` of stack `local` from a fresh state: the emulator keeps its resources in memory only, so a state
 * left by an earlier run would name volumes, endpoints and pods that no longer exist (a refresh would see
 * them all deleted). The stack state, the CLI's home and the project copy are rebuilt; the volume directory
 * with the user's data is not touched.
 */
async function pulumiUpLocal(args: { repoRoot: string; dataDir: string; apiKey: string; emulatorUrl: string; signal?: AbortSignal }): Promise<Record<string, unknown>> {
  const dir = path.join(args.dataDir, "pulumi");
  rmSync(dir, { recursive: true, force: true });
  const pulumi = new LocalPulumi({
    repoRoot: args.repoRoot,
    dir,
    passphrase: keptSecret(path.join(args.dataDir, "pulumi-passphrase")),
    env: { RUNPOD_API_URL: args.emulatorUrl, RUNPOD_API_KEY: args.apiKey },
    signal: args.signal,
  });
  await pulumi.prepare();
  await pulumi.run(["stack", "init", LOCAL_STACK, "--secrets-provider", "passphrase"]);
  // Kept between runs, so a browser's session cookie stays valid when `npm run local` restarts.
  await pulumi.setConfig("sessionSecret", keptSecret(path.join(args.dataDir, "session-secret")), { secret: true });
  // The emulator pulls no image: names that say so (a RunPod stack sets built ones, by digest).
  await pulumi.setConfig("workerImage", LOCAL_IMAGES.workerImage);
  await pulumi.setConfig("webImage", LOCAL_IMAGES.webImage);
  await pulumi.run(["up", "--yes", "--skip-preview", "--stack", LOCAL_STACK]);
  const text = await pulumi.run(["stack", "output", "--json", "--show-secrets", "--stack", LOCAL_STACK]);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A random secret kept in a 0600 file: read it when there, else make and write it. */
function keptSecret(file: string): string {
  if (existsSync(file)) {
    const value = readFileSync(file, "utf8").trim();
    if (value.length >= 32) return value;
  }
  const value = randomBytes(32).toString("hex");
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/**
 * The `demo` login: its password is generated once and kept in `<dataDir>/demo-password`. A password the person
 * changed since (`npm run add-user -- demo`) is left alone; an account lost with a wiped volume is made again.
 */
async function ensureLoginUser(paths: MetaHumanPaths, dataDir: string): Promise<LocalStack["user"]> {
  const file = path.join(dataDir, "demo-password");
  const kept = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  const password = kept || randomBytes(12).toString("base64url");
  if (!kept) writeFileSync(file, `${password}\n`, { mode: 0o600 });
  const exists = (await readAccount(paths, LOCAL_USERNAME)) !== undefined;
  if (!kept || !exists) await setPassword(paths, LOCAL_USERNAME, password);
  return { username: LOCAL_USERNAME, password, created: !kept || !exists };
}

/** Fails with the variable to change when something already listens on the port. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function assertPortFree(port: number, what: string, variable: string): Promise<void> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LocalStackError(`${variable}=${port} is not allowed for ${what}: give a whole number from 0 to 65535`);
  }
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => {
      reject(new LocalStackError(`port ${port} on 127.0.0.1 is taken (${err.code}); ${what} needs it: stop what uses it or set ${variable} to a free port`));
    });
    probe.listen({ host: "127.0.0.1", port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

interface WebChild {
  url: string;
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

const LISTENING = /metahuman web (?:server|pod) listening on (http:\/\/[^\s/]+?:\d+)/;

/** The web pod exactly as the image runs it (POD_COMMAND: the door, the gateway, MetaHuman OS), on the env file's variables alone. */
async function startWebServer(args: { repoRoot: string; envFile: string; logFile: string; tag: string; signal?: AbortSignal }): Promise<WebChild> {
  const fileEnv = dotenv.parse(readFileSync(args.envFile));
  const [command, ...commandArgs] = POD_COMMAND;
  const log: WriteStream = createWriteStream(args.logFile, { flags: "a", mode: 0o600 });
  const child: ChildProcess = spawn(command === "node" ? process.execPath : command, commandArgs, {
    cwd: args.repoRoot,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? args.repoRoot, LANG: process.env.LANG ?? "C.UTF-8", ...fileEnv, [LOCAL_TAG_VARIABLE]: args.tag },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a Ctrl-C in the terminal reaches `npm run local`, which stops the server in order
    // (server before emulator) and knows that exit was asked for.
    detached: true,
  });
  const tail: string[] = [];
  let buffered = "";
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const url = new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer) => {
      log.write(data);
      buffered += data.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        const match = LISTENING.exec(line);
        if (match) resolve(match[1]!);
      }
      tail.splice(0, Math.max(0, tail.length - 30));
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err) => reject(new LocalStackError(`the web server could not start: ${err.message}`)));
    void exited.then((how) => reject(new LocalStackError(`the web server exited (${how}) before listening; its last lines:\n${[...tail, buffered].join("\n").trim()}`)));
    const timer = setTimeout(() => reject(new LocalStackError(`the web server did not say it listens within 60 s; see ${args.logFile}`)), 60_000);
    timer.unref();
    args.signal?.addEventListener("abort", () => reject(new LocalStackError("start-up was interrupted")), { once: true });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await new Promise<void>((resolve) => log.end(resolve));
  };
  try {
    return { url: await url, exited, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
