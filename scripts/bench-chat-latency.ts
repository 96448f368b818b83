// Bench: how soon a person sees an answer. One chat of TOKENS tokens goes through the whole local stack (RunPod's
// cloud emulated; everything else real) and the client notes when the first and the last token arrive, for three
// clients of the same endpoint:
//   ours           the web server's chat route (its own process, the image's command), i.e. our runpod_serverless
//                  adapter streaming the job (/run, then /stream), read as server-sent events;
//   oursAdapter    the same adapter called directly in the client process, without the web server: the difference
//                  to `ours` is what the web server adds;
//   metahumanStyle what MetaHuman OS's RunPod client does today: POST /runsync, then GET /status once a second until
//                  the job is final; the answer is read from the output as that client reads it;
//   runpodSdk      the npm runpod-sdk: endpoint.run, then endpoint.stream.
// The worker is the real handler on the real RunPod SDK (separate Python processes started by the emulator), with the
// echo engine paced at TOKEN_DELAY_MS per token, STREAM_BATCH_TOKENS and MAX_CONCURRENCY at their production defaults.
// The emulator (with its workers), the web servers and this client are separate processes. Several lanes run chats
// at once; each lane runs the three arms in a fresh random order every round, so drift hits all arms alike; the first
// round of every lane is a warm-up and is not counted.
// Also: cold start (the endpoint at zero workers → first token through the web server), the overhead our layers add
// to the worker's own time with the job, and the web server's memory (idle, and during 50 chats through the stack).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { createParser } from "eventsource-parser";
import { MetaHumanPaths } from "../src/app/paths";
import { setPassword } from "../src/app/server/auth/accounts";
import { SERVER_COMMAND } from "../src/app/server/command";
import { createRunpodServerlessProvider, type RunpodServerlessProvider } from "../src/app/llm/runpod-serverless";
import type { BenchEmulatorInfo, JobTimings } from "./bench-emulator-process";
import { memorySample, printWhenRunAlone, watchPeak } from "./bench-memory-sample";

const REPO = path.resolve(__dirname, "..");

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${JSON.stringify(raw)} is not allowed: give a number of at least 0`);
  return value;
}

export interface ChatLatencySettings {
  tokens: number;
  tokenDelayMs: number;
  samplesPerArm: number;
  lanes: number;
  coldSamples: number;
  concurrentStreamsForMemory: number;
}

export function settingsFromEnv(): ChatLatencySettings {
  return {
    tokens: setting("BENCH_TOKENS", 200),
    tokenDelayMs: setting("BENCH_TOKEN_DELAY_MS", 20),
    samplesPerArm: setting("BENCH_SAMPLES", 200),
    lanes: setting("BENCH_LANES", 16),
    coldSamples: setting("BENCH_COLD_SAMPLES", 5),
    concurrentStreamsForMemory: setting("BENCH_MEMORY_STREAMS", 50),
  };
}

// ---------------------------------------------------------------------------------------------- statistics

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summary(samples: readonly number[]): { n: number; p50_ms: number; p95_ms: number; p99_ms: number; min_ms: number; max_ms: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: sorted.length, p50_ms: r(percentile(sorted, 50)), p95_ms: r(percentile(sorted, 95)), p99_ms: r(percentile(sorted, 99)), min_ms: r(sorted[0] ?? NaN), max_ms: r(sorted.at(-1) ?? NaN) };
}

// ---------------------------------------------------------------------------------------------- processes

export interface Child {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startChild(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, what: string): Promise<{ child: Child; match: RegExpExecArray }> {
  const proc = spawn(command, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const child: Child = {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      out += data.toString("utf8");
      if (out.length > 200_000) out = out.slice(-100_000);
      const match = ready.exec(out);
      if (match) {
        proc.stdout!.off("data", onData);
        resolve({ child, match });
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", (d: Buffer) => { out += d.toString("utf8"); });
    void exited.then(() => reject(new Error(`${what} exited before it was ready:\n${out.slice(-4000)}`)));
    setTimeout(() => reject(new Error(`${what} was not ready within 120 s:\n${out.slice(-4000)}`)), 120_000).unref();
  });
}

export async function startEmulatorProcess(settings: ChatLatencySettings): Promise<{ child: Child; info: BenchEmulatorInfo }> {
  const env = {
    ...withoutRunpodVars(process.env),
    BENCH_TOKEN_DELAY_MS: String(settings.tokenDelayMs),
    // Enough workers that no chat waits for a free one: each takes up to MAX_CONCURRENCY (30) jobs at once.
    BENCH_WORKERS_MAX: String(Math.max(2, Math.ceil(Math.max(settings.lanes, settings.concurrentStreamsForMemory) / 30) + 1)),
  };
  const { child, match } = await startChild(process.execPath, ["--import", "tsx", path.join(REPO, "scripts", "bench-emulator-process.ts")], env, /BENCH-EMULATOR (\{.*\})\n/, "the bench's emulator");
  return { child, info: JSON.parse(match[1]!) as BenchEmulatorInfo };
}

export interface WebServer {
  url: string;
  monitoringToken: string;
  cookie: string;
  child: Child;
  root: string;
}

export async function startWebServer(info: BenchEmulatorInfo, endpointId: string): Promise<WebServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-bench-web-"));
  const password = randomBytes(12).toString("hex");
  await setPassword(MetaHumanPaths.open(root), "bench", password);
  const monitoringToken = randomBytes(24).toString("hex");
  const [, ...args] = SERVER_COMMAND;
  const env = {
    MONITORING_TOKEN: monitoringToken,
    PATH: process.env.PATH ?? "",
    HOME: root,
    LLM_PROVIDER: "runpod_serverless",
    RUNPOD_API_KEY: info.apiKey,
    RUNPOD_ENDPOINT_ID: endpointId,
    RUNPOD_SERVERLESS_URL: `${info.origin}/v2`,
    METAHUMAN_ROOT: root,
    SESSION_SECRET: randomBytes(32).toString("hex"),
    HOST: "127.0.0.1",
    PORT: "0",
    NODE_ENV: "production",
    // One bench user sends hundreds of chats a minute; a person's limit would refuse most of them.
    CHAT_RATE_LIMIT_PER_MINUTE: "100000",
  };
  const { child, match } = await startChild(process.execPath, args, env, /listening on (http:\/\/127\.0\.0\.1:\d+)/, "the web server");
  const url = match[1]!;
  const login = await fetch(`${url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password }) });
  const cookie = login.headers.get("set-cookie")?.split(";")[0];
  if (login.status !== 200 || !cookie) throw new Error(`login to the bench's web server answered ${login.status}`);
  return { url, monitoringToken, cookie, child, root };
}

function withoutRunpodVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("RUNPOD_")));
}

// ---------------------------------------------------------------------------------------------- the arms

export type Arm = "ours" | "oursAdapter" | "metahumanStyle" | "runpodSdk";
export const ARMS: readonly Arm[] = ["ours", "oursAdapter", "metahumanStyle", "runpodSdk"];

export interface Sample {
  arm: Arm;
  ok: boolean;
  error?: string;
  firstTokenMs: number;
  lastTokenMs: number;
  marker: string;
}

/** A message of `tokens` words (the echo engine's tokens), starting with a marker that names the job. */
export function message(marker: string, tokens: number): string {
  return [marker, ...Array.from({ length: tokens - 1 }, (_, i) => `w${i}`)].join(" ");
}

/** Text in one streamed chunk or output element, whatever the worker's shape (the SDK arm's own reading). */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(textOf).join("");
  if (!value || typeof value !== "object") return "";
  const v = value as Record<string, any>;
  if ("output" in v) return textOf(v.output);
  for (const key of ["text", "delta", "response"]) if (typeof v[key] === "string") return v[key];
  const choice = Array.isArray(v.choices) ? v.choices[0] : undefined;
  if (choice) return choice.delta?.content ?? choice.message?.content ?? choice.text ?? (Array.isArray(choice.tokens) ? choice.tokens.join("") : "");
  return "";
}

/** MetaHuman OS's client reads `output[0].choices[0].tokens` (worker-vllm's shape) or `{response}`. */
function metahumanReads(output: unknown): string {
  const first = Array.isArray(output) ? output[0] : output;
  const tokens = (first as any)?.choices?.[0]?.tokens;
  if (Array.isArray(tokens)) return tokens.join("");
  const response = (first as any)?.response;
  return typeof response === "string" ? response : "";
}

export interface Target {
  info: BenchEmulatorInfo;
  endpointId: string;
  web: WebServer;
}

export async function oursChat(target: Target, text: string, maxTokens: number): Promise<Omit<Sample, "arm" | "marker">> {
  const started = performance.now();
  let first = NaN;
  let last = NaN;
  let answer = "";
  let error: string | undefined;
  const res = await fetch(`${target.web.url}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: target.web.cookie },
    body: JSON.stringify({ messages: [{ role: "user", content: text }], maxTokens }),
  });
  if (res.status !== 200 || !res.body) return { ok: false, error: `chat answered ${res.status}: ${await res.text()}`, firstTokenMs: NaN, lastTokenMs: NaN };
  const parser = createParser({
    onEvent(event) {
      if (event.event === "delta") {
        const now = performance.now() - started;
        if (Number.isNaN(first)) first = now;
        last = now;
        answer += (JSON.parse(event.data) as { text: string }).text;
      } else if (event.event === "error") {
        error = event.data;
      }
    },
  });
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) parser.feed(decoder.decode(read.value, { stream: true }));
  const ok = error === undefined && answer === text;
  return { ok, ...(ok ? {} : { error: error ?? `answer differs (${answer.length} of ${text.length} characters)` }), firstTokenMs: first, lastTokenMs: last };
}

async function adapterChat(provider: RunpodServerlessProvider, text: string, maxTokens: number): Promise<Omit<Sample, "arm" | "marker">> {
  const started = performance.now();
  let first = NaN;
  let last = NaN;
  let answer = "";
  for await (const event of provider.stream([{ role: "user", content: text }], { maxTokens })) {
    if (event.type !== "text-delta" || event.text === "") continue;
    const now = performance.now() - started;
    if (Number.isNaN(first)) first = now;
    last = now;
    answer += event.text;
  }
  const ok = answer === text;
  return { ok, ...(ok ? {} : { error: `answer differs (${answer.length} of ${text.length} characters)` }), firstTokenMs: first, lastTokenMs: last };
}

async function metahumanStyleChat(target: Target, text: string, maxTokens: number): Promise<Omit<Sample, "arm" | "marker">> {
  const base = `${target.info.origin}/v2/${target.endpointId}`;
  const headers = { authorization: `Bearer ${target.info.apiKey}`, "content-type": "application/json" };
  const started = performance.now();
  // Its request body: top-level messages, temperature, max_tokens and the model its router picked.
  const submitted = await fetch(`${base}/runsync`, {
    method: "POST",
    headers,
    body: JSON.stringify({ input: { messages: [{ role: "user", content: text }], temperature: 0.7, max_tokens: maxTokens, model: "echo" } }),
  });
  let body = (await submitted.json()) as { id?: string; status?: string; output?: unknown; error?: unknown };
  if (submitted.status !== 200 || !body.id) return { ok: false, error: `runsync answered ${submitted.status}: ${JSON.stringify(body)}`, firstTokenMs: NaN, lastTokenMs: NaN };
  while (!["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"].includes(body.status ?? "")) {
    await new Promise((r) => setTimeout(r, 1000));
    const polled = await fetch(`${base}/status/${body.id}`, { headers });
    body = (await polled.json()) as typeof body;
  }
  const done = performance.now() - started;
  const answer = metahumanReads(body.output);
  const ok = body.status === "COMPLETED" && answer === text;
  // No streaming: the first token arrives with the last.
  return { ok, ...(ok ? {} : { error: `${body.status}: ${body.status === "COMPLETED" ? `answer differs (${answer.length} of ${text.length} characters)` : JSON.stringify(body.error)}` }), firstTokenMs: done, lastTokenMs: done };
}

type SdkEndpoint = {
  run(request: unknown, timeout?: number): Promise<{ id?: string; status?: unknown }>;
  stream(id: string, timeout?: number): AsyncGenerator<unknown>;
};

async function runpodSdkChat(endpoint: SdkEndpoint, text: string, maxTokens: number): Promise<Omit<Sample, "arm" | "marker">> {
  const started = performance.now();
  let first = NaN;
  let last = NaN;
  let answer = "";
  const job = await endpoint.run({ input: { messages: [{ role: "user", content: text }], max_tokens: maxTokens, temperature: 0.7, stream: true } }, 30_000);
  if (!job.id) return { ok: false, error: `run answered ${JSON.stringify(job)}`, firstTokenMs: NaN, lastTokenMs: NaN };
  for await (const chunk of endpoint.stream(job.id)) {
    const piece = textOf(chunk);
    if (piece === "") continue;
    const now = performance.now() - started;
    if (Number.isNaN(first)) first = now;
    last = now;
    answer += piece;
  }
  const ok = answer === text;
  return { ok, ...(ok ? {} : { error: `answer differs (${answer.length} of ${text.length} characters)` }), firstTokenMs: first, lastTokenMs: last };
}

async function jobTimings(info: BenchEmulatorInfo, marker: string): Promise<JobTimings | undefined> {
  const res = await fetch(`${info.origin}/_bench/jobs?marker=${encodeURIComponent(marker)}`, { headers: { authorization: `Bearer ${info.apiKey}` } });
  return res.status === 200 ? ((await res.json()) as JobTimings) : undefined;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function health(info: BenchEmulatorInfo, endpointId: string): Promise<{ workers: Record<string, number>; jobs: Record<string, number> }> {
  const res = await fetch(`${info.origin}/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${info.apiKey}` } });
  return (await res.json()) as { workers: Record<string, number>; jobs: Record<string, number> };
}

async function untilNoWorkers(info: BenchEmulatorInfo, endpointId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await health(info, endpointId);
    if (Object.values(h.workers).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`endpoint ${endpointId} still has workers after ${timeoutMs} ms: ${JSON.stringify(h.workers)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------------------------------------- the run

export async function run(settings: ChatLatencySettings = settingsFromEnv()): Promise<Record<string, unknown>> {
  const startedAt = performance.now();
  // runpod-sdk prints with console.log (bound at import); nothing it prints matters here.
  const originalLog = console.log;
  console.log = () => {};
  const sdkModule = (await import("runpod-sdk")) as unknown as { default: (key: string, o: { baseUrl: string }) => { endpoint(id: string): SdkEndpoint | null } };
  console.log = originalLog;

  const children: Child[] = [];
  const roots: string[] = [];
  try {
    const { child: emulatorChild, info } = await startEmulatorProcess(settings);
    children.push(emulatorChild);
    const warmWeb = await startWebServer(info, info.warmEndpointId);
    children.push(warmWeb.child);
    roots.push(warmWeb.root);
    const coldWeb = await startWebServer(info, info.coldEndpointId);
    children.push(coldWeb.child);
    roots.push(coldWeb.root);
    const warm: Target = { info, endpointId: info.warmEndpointId, web: warmWeb };
    const sdk = sdkModule.default(info.apiKey, { baseUrl: `${info.origin}/v2` }).endpoint(info.warmEndpointId)!;
    const adapter = createRunpodServerlessProvider({ endpointId: info.warmEndpointId, apiKey: info.apiKey, baseURL: `${info.origin}/v2` });
    const maxTokens = settings.tokens;

    // 1. Cold start: the cold endpoint at zero workers, one chat through the web server, until there again.
    const cold = { firstTokenMs: [] as number[], lastTokenMs: [] as number[], failures: [] as string[] };
    for (let i = 0; i < settings.coldSamples; i++) {
      await untilNoWorkers(info, info.coldEndpointId, 60_000);
      const marker = `cold${i}-${randomBytes(4).toString("hex")}`;
      const s = await oursChat({ info, endpointId: info.coldEndpointId, web: coldWeb }, message(marker, settings.tokens), maxTokens);
      if (s.ok) {
        cold.firstTokenMs.push(s.firstTokenMs);
        cold.lastTokenMs.push(s.lastTokenMs);
      } else cold.failures.push(s.error ?? "failed");
    }

    // 2. Warm latency: lanes of interleaved rounds; each lane's first round warms up and is dropped.
    const memory = () => memorySample(warmWeb.url, warmWeb.child.proc.pid!, warmWeb.monitoringToken);
    const idleMemory = await memory();
    const samples: Sample[] = [];
    type Overhead = { overheadMs: number[]; beforeQueuedMs: number[]; queueMs: number[]; afterWorkerMs: number[]; workerMs: number[] };
    const overhead = Object.fromEntries(ARMS.map((arm) => [arm, { overheadMs: [], beforeQueuedMs: [], queueMs: [], afterWorkerMs: [], workerMs: [] } as Overhead])) as Record<Arm, Overhead>;
    const rounds = 1 + Math.ceil(settings.samplesPerArm / Math.max(1, settings.lanes));
    const latencyPeak = watchPeak(memory, idleMemory, 250);
    const latencyStarted = performance.now();
    await Promise.all(
      Array.from({ length: settings.lanes }, async (_, lane) => {
        // Lanes start staggered over one chat's length, so their rounds do not move in lock step.
        await new Promise((r) => setTimeout(r, (lane / settings.lanes) * settings.tokens * settings.tokenDelayMs));
        for (let round = 0; round < rounds; round++) {
          for (const arm of shuffled(ARMS)) {
            const marker = `m${lane}r${round}${arm}-${randomBytes(4).toString("hex")}`;
            const text = message(marker, settings.tokens);
            let s: Omit<Sample, "arm" | "marker">;
            // Wall clock (this machine's, as the emulator's job times are): where the overhead lies.
            const wallStart = Date.now();
            try {
              s = arm === "ours" ? await oursChat(warm, text, maxTokens)
                : arm === "oursAdapter" ? await adapterChat(adapter, text, maxTokens)
                : arm === "metahumanStyle" ? await metahumanStyleChat(warm, text, maxTokens)
                : await runpodSdkChat(sdk, text, maxTokens);
            } catch (err) {
              s = { ok: false, error: (err as Error).message, firstTokenMs: NaN, lastTokenMs: NaN };
            }
            if (round === 0) continue; // warm-up
            samples.push({ arm, marker, ...s });
            if (!s.ok) continue;
            const t = await jobTimings(info, marker);
            // The worker's own time: from taking the job until its last token left it (the last streamed chunk;
            // for a job that does not stream, the posted result).
            const lastTokenLeftWorker = arm === "metahumanStyle" ? t?.finishedAt : t?.lastChunkAt;
            if (t?.takenAt !== undefined && lastTokenLeftWorker !== undefined) {
              const workerMs = lastTokenLeftWorker - t.takenAt;
              overhead[arm].workerMs.push(workerMs);
              overhead[arm].overheadMs.push(s.lastTokenMs - workerMs);
              overhead[arm].queueMs.push(t.takenAt - t.queuedAt);
              overhead[arm].beforeQueuedMs.push(t.queuedAt - wallStart);
              overhead[arm].afterWorkerMs.push(wallStart + s.lastTokenMs - lastTokenLeftWorker);
            }
          }
        }
      }),
    );
    const latencySeconds = (performance.now() - latencyStarted) / 1000;
    const peakDuringLatency = await latencyPeak.stop();

    // 3. The web server's memory with many chats at once through the stack.
    const beforeStreams = await memory();
    const streamsPeak = watchPeak(memory, beforeStreams, 100);
    const streamResults = await Promise.all(
      Array.from({ length: settings.concurrentStreamsForMemory }, (_, i) => oursChat(warm, message(`mem${i}-${randomBytes(4).toString("hex")}`, settings.tokens), maxTokens).catch((e: Error) => ({ ok: false, error: e.message }))),
    );
    const peakDuringStreams = await streamsPeak.stop();

    const arms = Object.fromEntries(
      ARMS.map((arm) => {
        const mine = samples.filter((s) => s.arm === arm);
        const ok = mine.filter((s) => s.ok);
        const failures = mine.filter((s) => !s.ok);
        return [arm, {
          samples: ok.length,
          failures: failures.length,
          ...(failures.length ? { firstFailure: failures[0]!.error } : {}),
          firstToken: summary(ok.map((s) => s.firstTokenMs)),
          lastToken: summary(ok.map((s) => s.lastTokenMs)),
        }];
      }),
    );
    const overheads = Object.fromEntries(
      ARMS.map((arm) => [arm, {
        overhead: summary(overhead[arm].overheadMs),
        beforeJobQueued: summary(overhead[arm].beforeQueuedMs),
        ofWhichEmulatedQueue: summary(overhead[arm].queueMs),
        afterLastTokenLeftWorker: summary(overhead[arm].afterWorkerMs),
        workerOwnTime: summary(overhead[arm].workerMs),
      }]),
    );
    const oursOverheadP95 = summary(overhead.ours.overheadMs).p95_ms;
    return {
      what: "ms from sending one chat to its first and its last token at the client, warm endpoint",
      emulated: "RunPod's cloud is emulated (src/emulator on loopback). Real: the web server, our adapter, runpod-sdk, the RunPod Python SDK worker loop and handler.py; the echo engine stands in for vLLM",
      settings: {
        tokensPerAnswer: settings.tokens,
        tokenDelayMs: settings.tokenDelayMs,
        workerStreamBatchTokens: "8 (the worker's default)",
        concurrentLanes: settings.lanes,
        warmupRoundsPerLane: 1,
        samplesPerArmTarget: settings.samplesPerArm,
        order: "interleaved: every round runs the four arms in a new random order",
        wallSeconds: Math.round(latencySeconds),
      },
      arms: {
        ours: { method: "web server POST /api/chat (SSE) → our runpod_serverless adapter: POST /run, GET /stream long poll", ...arms.ours },
        oursAdapter: { method: "our runpod_serverless adapter's stream() called in the client process, no web server", ...arms.oursAdapter },
        metahumanStyle: { method: "POST /runsync, then GET /status every 1 s until final; answer read as MetaHuman OS's client reads it (no streaming)", ...arms.metahumanStyle },
        runpodSdk: { method: "runpod-sdk 1.1.2: endpoint.run, then endpoint.stream", ...arms.runpodSdk },
      },
      overheadOverWorker: {
        what: "client's time to the last token minus the worker's own time (emulator clock: job taken → its last token left the worker, i.e. the last streamed chunk, or the result of a job that does not stream): what the path around the worker adds, i.e. the web server, the clients, HTTP, the emulated queue. Its parts (wall clock, ±1 ms): 'beforeJobQueued' from sending the chat to the job being queued, 'ofWhichEmulatedQueue' the job's wait in the emulated RunPod queue until a worker took it, 'afterLastTokenLeftWorker' from the worker's last token to the client having it",
        ...overheads,
        goalOursP95Ms: 20,
        oursMeetsGoal: oursOverheadP95 <= 20,
      },
      coldStart: {
        what: "the endpoint at zero workers (idle timeout 1 s, waited out), one chat through the web server: a real worker process starts (Python, RunPod SDK, handler, echo engine); no model load",
        samples: cold.firstTokenMs.length,
        failures: cold.failures.length,
        ...(cold.failures.length ? { firstFailure: cold.failures[0] } : {}),
        firstToken: summary(cold.firstTokenMs),
        lastToken: summary(cold.lastTokenMs),
      },
      webServerMemoryThroughStack: {
        what: "the web server's resident memory (/proc: the node process, and with its children) and V8's used heap, runpod_serverless provider against the emulator: idle (before any warm chat), peak during the latency run, then peak during concurrent streaming chats",
        goalMiB: { idle: 80, with50Streams: 150 },
        idle: idleMemory,
        peakDuringLatencyRun: peakDuringLatency,
        beforeConcurrentStreams: beforeStreams,
        concurrentStreams: settings.concurrentStreamsForMemory,
        streamsCompleted: streamResults.filter((r) => r.ok).length,
        peakDuringConcurrentStreams: peakDuringStreams,
      },
      totalSeconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  }
}

printWhenRunAlone(module, run);
