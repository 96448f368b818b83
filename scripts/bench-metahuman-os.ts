// The web pod as deployed (MetaHuman OS built at the pin, behind the front door, with the gateway), against the bench's
// emulator with real RunPod SDK workers (echo engine paced at BENCH_TOKEN_DELAY_MS):
//   startToFirstPage   the pod's command started → the door's login page answered, and → MetaHuman OS's own page
//   rss                the pod's resident memory (door + gateway + MetaHuman OS + their children) idle and at the peak
//                      of 10 chats at once
//   chats              BENCH_MHOS_CHATS chats one after another through MetaHuman OS (POST /api/persona_chat), each on a
//                      cold endpoint (scaled to zero between chats): the chat's time against the sum of its jobs' worker
//                      times, the jobs per chat and the cold starts per chat (goal: at most one)
//   gateway            BENCH_MHOS_CALLS calls straight to the gateway (an in-process one, same code) on the warm
//                      endpoint: what it adds over the emulator and worker (job queued → result posted), p50/p95
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadWebEnv } from "../src/app/env";
import { startGateway } from "../src/app/gateway/gateway-server";
import { MetaHumanPaths } from "../src/app/paths";
import { buildApp } from "../src/app/server/app";
import { setPassword } from "../src/app/server/auth/accounts";
import { POD_COMMAND } from "../src/app/server/command";
import { settingsFromEnv, startChild, startEmulatorProcess, summary } from "./bench-chat-latency";
import type { BenchEmulatorInfo, JobTimings } from "./bench-emulator-process";
import { printWhenRunAlone, rssMiB } from "./bench-memory-sample";

const REPO = path.resolve(__dirname, "..");
const APP_DIR = path.join(REPO, ".tools", "metahuman-os", "app");
const MODEL = "echo/bench";

const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function allJobs(info: BenchEmulatorInfo): Promise<JobTimings[]> {
  return (await fetch(`${info.origin}/_bench/all-jobs`)).json() as Promise<JobTimings[]>;
}

export async function run() {
  if (!fs.existsSync(path.join(APP_DIR, "apps", "site", "dist", "server", "entry.mjs"))) throw new Error(`MetaHuman OS is not built in ${APP_DIR}: run bash scripts/setup.sh`);
  const settings = settingsFromEnv();
  const emulator = await startEmulatorProcess(settings);
  const info = emulator.info;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-bench-pod-"));
  const password = randomBytes(12).toString("hex");
  await setPassword(MetaHumanPaths.open(root), "bench", password);
  const secret = randomBytes(32).toString("hex");
  const podEnv = {
    PATH: process.env.PATH ?? "", HOME: root, LLM_PROVIDER: "runpod_serverless", LLM_MODEL: MODEL, RUNPOD_API_KEY: info.apiKey,
    RUNPOD_ENDPOINT_ID: info.coldEndpointId, RUNPOD_SERVERLESS_URL: `${info.origin}/v2`, METAHUMAN_ROOT: root, SESSION_SECRET: secret,
    HOST: "127.0.0.1", PORT: "0", NODE_ENV: "production", METAHUMAN_OS_DIR: APP_DIR,
    METAHUMAN_OS_PORT: String(40_000 + Math.floor(Math.random() * 10_000)), GATEWAY_PORT: String(50_000 + Math.floor(Math.random() * 10_000)),
  };
  const [, ...args] = POD_COMMAND;
  const started = performance.now();
  const { child: pod, match } = await startChild(process.execPath, args, podEnv, /web pod listening on (http:\/\/127\.0\.0\.1:\d+)/, "the web pod");
  const url = match[1]!;
  const listeningMs = performance.now() - started;
  const loginPage = await fetch(`${url}/door/login`);
  const loginPageMs = performance.now() - started;
  if (!loginPage.ok) throw new Error(`/door/login answered ${loginPage.status}`);
  const login = await fetch(`${url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password }) });
  let cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const page = await fetch(`${url}/`, { headers: { cookie, accept: "text/html" } });
  const metahumanPageMs = performance.now() - started;
  cookie = [cookie, ...page.headers.getSetCookie().map((c) => c.split(";")[0])].join("; ");
  try {
    await sleep(3_000);
    const idle = rssMiB(pod.proc.pid!);

    const chat = async (message: string) => {
      const t0 = Date.now();
      const res = await fetch(`${url}/api/persona_chat`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ message, mode: "conversation", stream: false }) });
      const body = (await res.json()) as { response?: string };
      if (!res.ok || !body.response?.includes(message.split(" ")[0]!)) throw new Error(`a chat answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
      return { t0, t1: Date.now() };
    };

    const perChat: Array<{ chatMs: number; jobs: number; workerMs: number; queueMs: number; coldStarts: number }> = [];
    for (let i = 0; i < count("BENCH_MHOS_CHATS", 8); i++) {
      await sleep(2_500); // the cold endpoint scales to zero 1 s after its last job: every chat starts cold
      const { t0, t1 } = await chat(`bench${i} tell me about the sea and the lighthouse keeper`);
      const jobs = (await allJobs(info)).filter((j) => j.queuedAt >= t0 - 50 && j.queuedAt <= t1);
      const workerMs = jobs.reduce((sum, j) => sum + ((j.finishedAt ?? j.takenAt ?? j.queuedAt) - (j.takenAt ?? j.queuedAt)), 0);
      const queueMs = jobs.reduce((sum, j) => sum + ((j.takenAt ?? j.queuedAt) - j.queuedAt), 0);
      perChat.push({ chatMs: t1 - t0, jobs: jobs.length, workerMs, queueMs, coldStarts: jobs.filter((j) => (j.takenAt ?? j.queuedAt) - j.queuedAt > 300).length });
    }

    let peak = idle;
    const watch = setInterval(() => { const r = rssMiB(pod.proc.pid!); if (r.withChildren > peak.withChildren) peak = r; }, 100);
    await Promise.all(Array.from({ length: 10 }, (_, i) => chat(`parallel${i} a chat among ten at once`)));
    clearInterval(watch);

    const gateway = await gatewayOverhead(info, count("BENCH_MHOS_CALLS", 40));
    return {
      what: "the web pod: MetaHuman OS (pinned, built) behind the front door with the gateway; emulator + real SDK workers, echo engine",
      tokenDelayMs: settings.tokenDelayMs,
      startToFirstPage: { listeningMs: Math.round(listeningMs), doorLoginPageMs: Math.round(loginPageMs), metahumanPageMs: Math.round(metahumanPageMs) },
      rssMiB: { idle: idle.withChildren, peakWith10Chats: peak.withChildren, doorProcessIdle: idle.process },
      chats: {
        n: perChat.length,
        jobsPerChat: perChat.map((c) => c.jobs),
        coldStartsPerChat: perChat.map((c) => c.coldStarts),
        chatMs: summary(perChat.map((c) => c.chatMs).sort((a, b) => a - b)),
        workerMsPerChat: summary(perChat.map((c) => c.workerMs).sort((a, b) => a - b)),
        queueAndColdStartMsPerChat: summary(perChat.map((c) => c.queueMs).sort((a, b) => a - b)),
        addedByMetahumanOsAndGatewayMs: summary(perChat.map((c) => c.chatMs - c.workerMs - c.queueMs).sort((a, b) => a - b)),
      },
      gateway,
    };
  } finally {
    await pod.stop();
    await emulator.child.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Calls straight to a gateway (the pod's code, in this process) on the warm endpoint: its time minus the job's. */
async function gatewayOverhead(info: BenchEmulatorInfo, calls: number) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-bench-gw-"));
  const env = loadWebEnv({ env: { LLM_PROVIDER: "runpod_serverless", LLM_MODEL: MODEL, RUNPOD_API_KEY: info.apiKey, RUNPOD_ENDPOINT_ID: info.warmEndpointId, RUNPOD_SERVERLESS_URL: `${info.origin}/v2`, METAHUMAN_ROOT: root, SESSION_SECRET: randomBytes(32).toString("hex") }, dotenvPath: "/nonexistent" });
  const app = await buildApp({ env });
  const token = randomBytes(16).toString("hex");
  const gateway = await startGateway(app.appContext, { port: 0, token, model: MODEL });
  const added: number[] = [];
  try {
    for (let i = 0; i < calls + 2; i++) {
      const marker = `gw${i}x${randomBytes(3).toString("hex")}`;
      const t0 = Date.now();
      const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: `${marker} hello there` }] }) });
      await res.json();
      const t1 = Date.now();
      const job = (await (await fetch(`${info.origin}/_bench/jobs?marker=${marker}`)).json()) as JobTimings;
      if (i >= 2 && job.finishedAt) added.push((t1 - t0) - (job.finishedAt - job.queuedAt)); // the first two warm the worker
    }
  } finally {
    await gateway.app.close();
    await app.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return { calls: added.length, addedOverWorkerMs: summary(added.sort((a, b) => a - b)), goalP95Ms: 20 };
}

printWhenRunAlone(module, run);
