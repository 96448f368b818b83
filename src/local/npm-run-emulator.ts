// `npm run emulator [-- --port 8787] [--workers-max 2] [--no-endpoint]`: the local RunPod on 127.0.0.1, with
// real RunPod SDK worker processes (handler/handler.py, echo engine) behind its job API and OpenAI route,
// as `npm run local` runs them: a client tested against it meets the real worker, not a stand-in.
// At start it creates one serverless endpoint through its own REST v2 (unless --no-endpoint: when Pulumi
// or another tool creates them) and prints the base URLs and the endpoint id to use.
// Ctrl-C (SIGINT) or SIGTERM stops the emulator and every worker process, then exits 0.
//   RUNPOD_API_KEY         the key clients must send (default `local-dev-key`; loopback only)
//   RUNPOD_EMULATOR_PORT   the port when --port is not given (default 8787, as for `npm run local`)
//   ECHO_TOKEN_DELAY_MS    pause between the echo engine's words (default 20, so streams are visible)
//   EMULATOR_LOG_WORKERS=1 copy worker output to this terminal
//   METAHUMAN_LOCAL_TAG    passed on to every worker process (env), so a check can find them
//   RUNPOD_S3_ACCESS_KEY_ID, RUNPOD_S3_SECRET_ACCESS_KEY  the S3 key it accepts (default user_local / rps_local-dev-secret)
//   EMULATOR_VOLUMES_DIR   where volumes' files live (default .local/emulator-volumes)
// RunPod's S3 API is served as RunPod serves it: at the root of one listener per data center that has it (free
// ports, printed at start), bucket = volume id, region = data center.
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../emulator/emulator";
import { startS3Listener, type S3Listener } from "../emulator/s3/s3-api";
import { S3_DATA_CENTERS } from "../runpod/s3-endpoints";

const LOCAL_DEFAULT_API_KEY = "local-dev-key";
const LOCAL_DEFAULT_S3_KEY = { accessKeyId: "user_local", secretAccessKey: "rps_local-dev-secret" };
const REPO_ROOT = path.resolve(__dirname, "../..");
const TAG_VARIABLE = "METAHUMAN_LOCAL_TAG";

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function wholeNumber(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} ${JSON.stringify(raw)} is not allowed: give a whole number from ${min} to ${max}`);
  }
  return value;
}

interface Settings {
  port: number;
  workersMax: number;
  endpoint: boolean;
  apiKey: string;
  keyFromEnv: boolean;
  tokenDelayMs: number;
  s3Key: { accessKeyId: string; secretAccessKey: string };
  volumesDir: string;
  /** EMULATOR_WEBHOOK_ORIGINS: the loopback origins jobs' webhooks may name (comma-separated); none by default. */
  webhookOrigins: string[];
}

const USAGE = `usage: npm run emulator [-- --port N] [--workers-max N] [--no-endpoint]
  --port N          port on 127.0.0.1 (default $RUNPOD_EMULATOR_PORT or 8787; 0 picks a free one)
  --workers-max N   most worker processes of the endpoint at once (1-16, default 2)
  --no-endpoint     create no endpoint (Pulumi or another tool creates them through REST v2)`;

const OPTIONS = {
  port: { type: "string", default: process.env.RUNPOD_EMULATOR_PORT || "8787" },
  "workers-max": { type: "string", default: "2" },
  "no-endpoint": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The command line; an unknown option fails with the usage. */
function parsedArgs() {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
}

function settings(): Settings | undefined {
  const { values } = parsedArgs();
  if (values.help) return undefined;
  return {
    port: wholeNumber("--port", values.port, 0, 65535),
    workersMax: wholeNumber("--workers-max", values["workers-max"], 1, 16),
    endpoint: !values["no-endpoint"],
    apiKey: process.env.RUNPOD_API_KEY || LOCAL_DEFAULT_API_KEY,
    keyFromEnv: Boolean(process.env.RUNPOD_API_KEY),
    tokenDelayMs: wholeNumber("ECHO_TOKEN_DELAY_MS", process.env.ECHO_TOKEN_DELAY_MS ?? "20", 0, 10_000),
    s3Key: {
      accessKeyId: process.env.RUNPOD_S3_ACCESS_KEY_ID || LOCAL_DEFAULT_S3_KEY.accessKeyId,
      secretAccessKey: process.env.RUNPOD_S3_SECRET_ACCESS_KEY || LOCAL_DEFAULT_S3_KEY.secretAccessKey,
    },
    volumesDir: path.resolve(process.env.EMULATOR_VOLUMES_DIR || path.join(REPO_ROOT, ".local", "emulator-volumes")),
    webhookOrigins: (process.env.EMULATOR_WEBHOOK_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean),
  };
}

function emulatorWithWorkers(s: Settings, python: string): Promise<FastifyInstance> {
  const tag = process.env[TAG_VARIABLE];
  return buildEmulator({
    apiKey: s.apiKey,
    s3: { keys: [s.s3Key], volumeFolder: (id) => path.join(s.volumesDir, id) },
    jobs: {
      executor: "workers",
      webhookOrigins: s.webhookOrigins,
      workers: {
        python,
        handler: path.join(REPO_ROOT, "handler", "handler.py"),
        cwd: REPO_ROOT,
        // No GPU and no model here: the same handler runs its echo engine through the same code path.
        env: { ENGINE: "echo", ECHO_TOKEN_DELAY_MS: String(s.tokenDelayMs), STREAM_BATCH_TOKENS: "1", ...(tag ? { [TAG_VARIABLE]: tag } : {}) },
        log: process.env.EMULATOR_LOG_WORKERS === "1",
      },
    },
  });
}

/** One queue endpoint, made the way a user makes one: POST /v2/serverless on the emulator's REST v2. */
async function createEndpoint(origin: string, apiKey: string, workersMax: number): Promise<string> {
  const res = await fetch(`${origin}/v2/serverless`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "emulator",
      type: "QUEUE",
      image: "metahuman-worker:local",
      gpu: { pools: ["ADA_24"] },
      workers: { min: 0, max: workersMax, idleTimeout: 5 },
      scaling: { type: "QUEUE_DELAY", queueDelay: 4 },
      timeout: 600_000,
    }),
  });
  const body = (await res.json()) as { id?: string; title?: string; detail?: string };
  if (res.status !== 201 || !body.id) throw new Error(`the emulator refused its own endpoint (${res.status}): ${body.detail ?? body.title ?? JSON.stringify(body)}`);
  return body.id;
}

function printUsage(s: Settings, origin: string, endpointId: string | undefined, s3: S3Listener[]): void {
  say(`local RunPod listening on ${origin}`);
  say(`  RUNPOD_API_URL=${origin}`);
  say(`  RUNPOD_SERVERLESS_URL=${origin}/v2`);
  say(`  RUNPOD_API_KEY=${s.keyFromEnv ? "(from your environment)" : `${LOCAL_DEFAULT_API_KEY}   (local default)`}`);
  if (endpointId === undefined) {
    say("  no endpoint yet (--no-endpoint): create one with POST /v2/serverless (e.g. `pulumi up`)");
  } else {
    say(`  RUNPOD_ENDPOINT_ID=${endpointId}   (up to ${s.workersMax} real SDK workers, echo engine; they start on the first job)`);
    say("");
    say("Clients:");
    say(`  job API          ${origin}/v2/${endpointId}/run | runsync | status/{id} | stream/{id} | cancel/{id} | health`);
    say(`  OpenAI base URL  ${origin}/v2/${endpointId}/openai/v1`);
    say(`  runpod-python    runpod.endpoint_url_base = "${origin}/v2"; runpod.Endpoint("${endpointId}")`);
    say(`  runpod-sdk (npm) runpodSdk(key, { baseUrl: "${origin}/v2" }).endpoint("${endpointId}")`);
  }
  say("");
  say(`RunPod's S3 API for network volumes (bucket = volume id, region = data center; files under ${s.volumesDir}):`);
  say(`  RUNPOD_S3_ACCESS_KEY_ID=${s.s3Key.accessKeyId}`);
  say(`  RUNPOD_S3_SECRET_ACCESS_KEY=${process.env.RUNPOD_S3_SECRET_ACCESS_KEY ? "(from your environment)" : s.s3Key.secretAccessKey}`);
  for (const listener of s3) say(`  ${listener.dataCenter.padEnd(9)} ${listener.url}   (RunPod: https://s3api-${listener.dataCenter.toLowerCase()}.runpod.io/)`);
  say("Press Ctrl-C to stop the emulator and its workers.");
}

async function main(): Promise<void> {
  const s = settings();
  if (!s) {
    say(USAGE);
    return;
  }
  const python = path.join(REPO_ROOT, ".venv", "bin", "python");
  if (!existsSync(python)) throw new Error(`${python} is missing: run \`bash scripts/setup.sh\` first (it builds the worker's virtualenv)`);

  let app: FastifyInstance | undefined;
  const s3: S3Listener[] = [];
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return; // npm forwards the terminal's Ctrl-C a second time
    stopping = true;
    say(`\n${signal}: stopping the emulator and its workers ...`);
    void (async () => {
      for (const listener of s3) await listener.close();
      await app?.close();
      say("stopped.");
      process.exit(0);
    })();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  app = await emulatorWithWorkers(s, python);
  const origin = await app.listen({ port: s.port, host: "127.0.0.1" }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot listen on 127.0.0.1:${s.port} (${err.code ?? err.message}): give a free port with --port`);
  });
  if (stopping) return;
  for (const dataCenter of S3_DATA_CENTERS) {
    if (!stopping) s3.push(await startS3Listener(app.s3Api!, dataCenter));
  }
  const endpointId = s.endpoint ? await createEndpoint(origin, s.apiKey, s.workersMax) : undefined;
  if (!stopping) printUsage(s, origin, endpointId, s3);
}

main().catch((error: Error) => {
  process.stderr.write(`npm run emulator failed: ${error.message}\n`);
  process.exit(1);
});
