// `npm run local`: the whole system on this machine (see local-stack.ts). Prints each step, then the URL,
// the login and what is emulated; Ctrl-C (SIGINT) or SIGTERM stops the web server, the emulator and every
// worker process, and exits 0.
//   PORT                   web server port (default 4321)
//   RUNPOD_EMULATOR_PORT   emulator port (default 8787)
//   METAHUMAN_LOCAL_DIR    local data (default .local in the repository)
//   LOCAL_IDLE_TIMEOUT_MS  scale-to-zero delay (default: the stack's idleTimeout, 5 s)
//   ECHO_TOKEN_DELAY_MS    pause between the echo engine's words (default 40, so streaming is visible)
//   LOCAL_LOG_WORKERS=1    copy worker output to this terminal
//   METAHUMAN_LOCAL_TAG    marks the server and worker processes (env) so a test can find them; default random
import path from "node:path";
import { DEFAULT_EMULATOR_PORT, DEFAULT_WEB_PORT, REPO_ROOT, startLocalStack, type LocalStack } from "./local-stack";

function intFromEnv(name: string, fallback: number | undefined): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${JSON.stringify(raw)} is not allowed: give a whole number of at least 0`);
  return value;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const controller = new AbortController();
  let starting: Promise<LocalStack> | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return; // npm forwards the terminal's Ctrl-C a second time
    stopping = true;
    say(`\n${signal}: stopping the web server, the emulator and its workers ...`);
    controller.abort();
    void (async () => {
      // During start-up, the abort makes startLocalStack stop what it had started before it rejects.
      const stack = await starting?.catch(() => undefined);
      await stack?.stop();
      say("stopped.");
      process.exit(0);
    })();
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));

  const started = Date.now();
  starting = startLocalStack({
    dataDir: process.env.METAHUMAN_LOCAL_DIR ? path.resolve(process.env.METAHUMAN_LOCAL_DIR) : path.join(REPO_ROOT, ".local"),
    webPort: intFromEnv("PORT", DEFAULT_WEB_PORT),
    emulatorPort: intFromEnv("RUNPOD_EMULATOR_PORT", DEFAULT_EMULATOR_PORT),
    idleTimeoutMs: intFromEnv("LOCAL_IDLE_TIMEOUT_MS", undefined),
    workerEnv: { ECHO_TOKEN_DELAY_MS: String(intFromEnv("ECHO_TOKEN_DELAY_MS", 40)), STREAM_BATCH_TOKENS: "1" },
    logWorkers: process.env.LOCAL_LOG_WORKERS === "1",
    ...(process.env.METAHUMAN_LOCAL_TAG ? { tag: process.env.METAHUMAN_LOCAL_TAG } : {}),
    signal: controller.signal,
    onStep: (message) => say(`==> ${message}`),
  });
  let stack: LocalStack;
  try {
    stack = await starting;
  } catch (err) {
    if (stopping) return; // shutdown() exits 0 once everything is down
    throw err;
  }
  if (stopping) return; // shutdown() stops this stack
  const s = stack;
  // Paths inside the working directory are shown relative to it, others in full.
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r && !r.startsWith("..") && !path.isAbsolute(r) ? r : p;
  };
  say("");
  say(`MetaHuman OS is running locally (started in ${((Date.now() - started) / 1000).toFixed(1)} s):`);
  say(`  open      ${s.webUrl}`);
  say(`  log in    ${s.user.username} / ${s.user.password}${s.user.created ? "   (new; kept in " + rel(path.join(s.dataDir, "demo-password")) + ")" : "   (kept in " + rel(path.join(s.dataDir, "demo-password")) + "; unless you changed it)"}`);
  say("");
  say("What is emulated, and what is real:");
  say(`  MetaHuman OS       the real one, built from its pinned commit (scripts/metahuman-os/pin.env), unmodified, behind the`);
  say(`                     front door (log in once; nobody can register); it calls the LLM through the gateway on loopback`);
  say(`  RunPod's cloud     emulated on ${s.emulatorUrl} (REST v2, serverless job API, worker protocol); endpoint ${s.endpointId}`);
  say(`  the LLM            the real worker handler (handler/handler.py) on the RunPod SDK, with the echo engine instead of vLLM:`);
  say(`                     there is no GPU and no model here, so answers repeat your message; workers start on a chat`);
  say(`                     (a real cold start) and stop when idle (scale to zero)`);
  say(`  the stack          the real Pulumi CLI and program, stack "local", state in ${rel(path.join(s.dataDir, "pulumi"))} (rebuilt each start)`);
  say(`  your data          ${rel(s.volumeDir)} (the network volume; kept between runs)`);
  say(`  the volume's S3    ${s.s3Url} (RunPod's S3 API of the volume's data center; key and secret in ${rel(s.volumeEnvFile)}): set -a; . ${rel(s.volumeEnvFile)}; set +a; npm run volume -- du`);
  say(`  web server log     ${rel(s.webLog)}`);
  say("");
  say("Press Ctrl-C to stop everything.");

  const how = await s.webExited;
  if (stopping) return;
  process.stderr.write(`the web server exited on its own (${how}); see ${rel(s.webLog)}. Stopping the rest.\n`);
  await s.stop();
  process.exit(1);
}

main().catch((err: Error) => {
  process.stderr.write(`npm run local failed: ${err.message}\n`);
  process.exit(1);
});
