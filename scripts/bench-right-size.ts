// Right-size the web pod from measurement: the web server's CPU and memory at 1, 10 and 50 concurrent streaming
// chats, through the whole local stack (the web server with LLM_PROVIDER=runpod_serverless, i.e. the real job client,
// against the emulator's job API, served by real RunPod SDK worker processes with the echo engine paced like a model).
// Each level keeps N chats streaming at all times (every lane starts its next chat as soon as one ends) for a fixed
// window, after a short ramp. Readings:
//   CPU     cores used = the server's CPU seconds over wall seconds in the window, from its own /metrics
//           (process_cpu_seconds_total, i.e. process.cpuUsage) and from /proc/<pid>/stat with its children;
//   memory  resident memory from /proc every 250 ms: peak (the window and its ramp) and steady (median of the
//           window's second half); V8's used heap beside it (/metrics is scraped only every 2 s: a scrape costs CPU).
// Idle is measured first, before any chat. The levels run in rising order in one server, as a pod's life goes.
// The machine's own load during each window is given too: CPU figures from a loaded machine are what this process
// got, not what it would take alone. Bounded: about 2 minutes with the defaults.
// scripts/bench.ts calls run() and prints the JSON; `npx tsx scripts/bench-right-size.ts` runs it alone.
// Settings: BENCH_RIGHT_SIZE_LEVELS (default "1,10,50"), BENCH_RIGHT_SIZE_SECONDS (window per level, default 20),
// BENCH_TOKENS and BENCH_TOKEN_DELAY_MS (as the latency bench).
import { randomBytes } from "node:crypto";
import * as os from "node:os";
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import { message, oursChat, settingsFromEnv, summary, startEmulatorProcess, startWebServer, type Child, type Target } from "./bench-chat-latency";
import { createRunpodServerlessProvider } from "../src/app/llm/runpod-serverless";
import { machineCpuTicks, metricsReading, printWhenRunAlone, procCpuSeconds, rssMiB } from "./bench-memory-sample";

/** The smallest pod RunPod rents, and what it is given (cpu3c: 2 GB per vCPU). */
const RIGHT_SIZED_POD = { name: "2 vCPU cpu3c", vcpu: 2, memoryMiB: 4 * 1024, config: "docs/examples/Pulumi.right-sized.yaml" };
/** Headroom asked of it: the measured peak at 50 streams within this share of the pod's vCPUs and memory. */
const HEADROOM_SHARE = 0.5;
const RAMP_MS = 2000;
const SAMPLE_EVERY_MS = 250;
/** The server's /metrics is read this seldom for heap and open streams (a scrape costs the server CPU itself). */
const SCRAPE_EVERY_MS = 2000;

export interface RightSizeSettings {
  levels: number[];
  windowSeconds: number;
  tokens: number;
  tokenDelayMs: number;
}

export function rightSizeSettingsFromEnv(): RightSizeSettings {
  const raw = process.env.BENCH_RIGHT_SIZE_LEVELS ?? "1,10,50";
  const levels = raw.split(",").map((s) => Number(s.trim()));
  if (levels.length === 0 || levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_RIGHT_SIZE_LEVELS=${JSON.stringify(raw)} is not allowed: give positive integers separated by commas`);
  const seconds = Number(process.env.BENCH_RIGHT_SIZE_SECONDS ?? "20");
  if (!Number.isFinite(seconds) || seconds < 2) throw new Error(`BENCH_RIGHT_SIZE_SECONDS=${JSON.stringify(process.env.BENCH_RIGHT_SIZE_SECONDS)} is not allowed: give at least 2`);
  const { tokens, tokenDelayMs } = settingsFromEnv();
  return { levels: [...levels].sort((a, b) => a - b), windowSeconds: seconds, tokens, tokenDelayMs };
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

interface Reading {
  at: number;
  cpu: { metrics: number; proc: number; procWithChildren: number };
  /** CPU seconds of the rest of the stack on this machine: the emulator with its worker processes, and this client. */
  others: { emulatorAndWorkers: number; client: number };
  machine: { busy: number; total: number };
}

async function reading(target: Target, emulator: Child): Promise<Reading> {
  const m = await metricsReading(target.web.url, target.web.monitoringToken);
  const p = procCpuSeconds(target.web.child.proc.pid!);
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    cpu: { metrics: m.cpuSeconds, proc: p.process, procWithChildren: p.withChildren },
    others: { emulatorAndWorkers: procCpuSeconds(emulator.proc.pid!).withChildren, client: (usage.user + usage.system) / 1e6 },
    machine: machineCpuTicks(),
  };
}

/** CPU between two readings: cores used by the server (its /metrics, /proc, /proc with children) and by the machine. */
function cpuBetween(a: Reading, b: Reading) {
  const wall = (b.at - a.at) / 1000;
  return {
    cores: round((b.cpu.metrics - a.cpu.metrics) / wall, 3),
    coresFromProc: round((b.cpu.proc - a.cpu.proc) / wall, 3),
    coresFromProcWithChildren: round((b.cpu.procWithChildren - a.cpu.procWithChildren) / wall, 3),
    cpuSeconds: round(b.cpu.metrics - a.cpu.metrics, 3),
    wallSeconds: round(wall, 2),
    machineBusyCores: round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * os.cpus().length, 2),
    emulatorAndWorkersCores: round((b.others.emulatorAndWorkers - a.others.emulatorAndWorkers) / wall, 2),
    benchClientCores: round((b.others.client - a.others.client) / wall, 2),
  };
}

/** RSS from /proc every SAMPLE_EVERY_MS, heap and open streams from /metrics every SCRAPE_EVERY_MS, until stop(). */
function memorySampler(target: Target) {
  const samples: { at: number; rssMiB: number; rssWithChildrenMiB: number; heapUsedMiB: number; activeStreams: number }[] = [];
  let running = true;
  const loop = (async () => {
    let scraped = -Infinity;
    let m = { heapUsedMiB: NaN, activeStreams: NaN };
    while (running) {
      if (performance.now() - scraped >= SCRAPE_EVERY_MS) {
        m = await metricsReading(target.web.url, target.web.monitoringToken);
        scraped = performance.now();
      }
      const rss = rssMiB(target.web.child.proc.pid!);
      samples.push({ at: performance.now(), rssMiB: rss.process, rssWithChildrenMiB: rss.withChildren, heapUsedMiB: m.heapUsedMiB, activeStreams: m.activeStreams });
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

function memoryOf(samples: ReturnType<typeof memorySampler>["samples"], steadyFrom: number) {
  const steady = samples.filter((s) => s.at >= steadyFrom);
  return {
    peak: { rssMiB: Math.max(...samples.map((s) => s.rssMiB)), rssWithChildrenMiB: Math.max(...samples.map((s) => s.rssWithChildrenMiB)), heapUsedMiB: Math.max(...samples.map((s) => s.heapUsedMiB)) },
    steady: { rssMiB: median(steady.map((s) => s.rssMiB)), rssWithChildrenMiB: median(steady.map((s) => s.rssWithChildrenMiB)), heapUsedMiB: median(steady.map((s) => s.heapUsedMiB)) },
    samples: samples.length,
  };
}

async function level(target: Target, emulator: Child, streams: number, settings: RightSizeSettings) {
  const sampler = memorySampler(target);
  const started = performance.now();
  const windowStart = started + RAMP_MS;
  const windowEnd = windowStart + settings.windowSeconds * 1000;
  let begin: Reading | undefined;
  let end: Reading | undefined;
  const readings = (async () => {
    await new Promise((r) => setTimeout(r, RAMP_MS));
    begin = await reading(target, emulator);
    await new Promise((r) => setTimeout(r, windowEnd - performance.now()));
    end = await reading(target, emulator);
  })();
  const finished: { at: number; ok: boolean; error?: string; lastTokenMs: number }[] = [];
  await Promise.all(
    Array.from({ length: streams }, async (_, lane) => {
      // Lanes start spread over one chat's length, as people's chats would, not in lock step.
      await new Promise((r) => setTimeout(r, (lane / streams) * Math.min(RAMP_MS, settings.tokens * settings.tokenDelayMs)));
      let i = 0;
      while (performance.now() < windowEnd) {
        const marker = `rs${streams}l${lane}c${i++}-${randomBytes(4).toString("hex")}`;
        const s = await oursChat(target, message(marker, settings.tokens), settings.tokens).catch((e: Error) => ({ ok: false, error: e.message, lastTokenMs: NaN }));
        finished.push({ at: performance.now(), ok: s.ok, lastTokenMs: s.lastTokenMs, ...(s.ok ? {} : { error: s.error }) });
      }
    }),
  );
  await readings;
  await sampler.stop();
  const inWindow = sampler.samples.filter((s) => s.at >= windowStart && s.at <= windowEnd);
  const done = finished.filter((f) => f.at >= windowStart && f.at <= windowEnd);
  const failures = finished.filter((f) => !f.ok);
  const cpu = cpuBetween(begin!, end!);
  const ok = done.filter((f) => f.ok);
  return {
    concurrentStreams: streams,
    openStreamsMedian: median(inWindow.map((s) => s.activeStreams)),
    chatsInWindow: ok.length,
    failures: failures.length,
    ...(failures.length ? { firstFailure: failures[0]!.error } : {}),
    chatsPerSecond: round(ok.length / cpu.wallSeconds, 2),
    // Whether the server kept pace: a chat's last token against the worker's pacing (tokens × delay), which no
    // server can beat; a starved server stretches it.
    lastTokenMs: summary(ok.map((f) => f.lastTokenMs)),
    pacedChatMs: settings.tokens * settings.tokenDelayMs,
    cpu: {
      ...cpu,
      cpuMsPerChat: round((cpu.cpuSeconds * 1000) / Math.max(1, ok.length), 1),
      // On a loaded machine the chats run slower than the pacing, so fewer pass per second than a pod would serve:
      // the same CPU per chat at the paced rate (N chats per paced chat length). An estimate, named as one.
      estimatedCoresAtPacedRate: round(((cpu.cpuSeconds / Math.max(1, ok.length)) * streams) / ((settings.tokens * settings.tokenDelayMs) / 1000), 3),
    },
    memoryMiB: memoryOf(sampler.samples, windowStart + (windowEnd - windowStart) / 2),
  };
}

export async function run(settings: RightSizeSettings = rightSizeSettingsFromEnv()): Promise<Record<string, unknown>> {
  const startedAt = performance.now();
  const top = Math.max(...settings.levels);
  const children: Child[] = [];
  let root: string | undefined;
  try {
    const { child: emulatorChild, info } = await startEmulatorProcess({ ...settingsFromEnv(), lanes: top, concurrentStreamsForMemory: top });
    children.push(emulatorChild);
    const web = await startWebServer(info, info.warmEndpointId);
    children.push(web.child);
    root = web.root;
    const target: Target = { info, endpointId: info.warmEndpointId, web };

    // Idle: the server after start and login, no chat yet.
    await new Promise((r) => setTimeout(r, 1000));
    const idleSampler = memorySampler(target);
    const idleBegin = await reading(target, emulatorChild);
    await new Promise((r) => setTimeout(r, 5000));
    const idleEnd = await reading(target, emulatorChild);
    await idleSampler.stop();
    const idle = { cpu: cpuBetween(idleBegin, idleEnd), memoryMiB: memoryOf(idleSampler.samples, 0) };

    // Warm-up, not measured: enough jobs at once to start every worker the top level needs (their cold starts are
    // the GPU side's, not the web server's), sent by our adapter from this process, so that the server meets its
    // first chat in the first level.
    const adapter = createRunpodServerlessProvider({ endpointId: info.warmEndpointId, apiKey: info.apiKey, baseURL: `${info.origin}/v2` });
    const warmup = await Promise.all(
      Array.from({ length: top }, (_, i) =>
        adapter.generate([{ role: "user", content: message(`rswarm${i}-${randomBytes(4).toString("hex")}`, settings.tokens) }], { maxTokens: settings.tokens }).then(() => ({ ok: true }), () => ({ ok: false })),
      ),
    );

    const levels: Record<string, unknown> = {};
    const results: Awaited<ReturnType<typeof level>>[] = [];
    for (const streams of settings.levels) {
      process.stderr.write(`bench: rightSize: ${streams} concurrent streams for ${settings.windowSeconds} s...\n`);
      const r = await level(target, emulatorChild, streams, settings);
      results.push(r);
      levels[`streams${streams}`] = r;
    }

    const atTop = results.at(-1)!;
    const peakCores = Math.max(atTop.cpu.cores, atTop.cpu.coresFromProcWithChildren, atTop.cpu.estimatedCoresAtPacedRate);
    const peakRss = atTop.memoryMiB.peak.rssWithChildrenMiB;
    const cpuShare = peakCores / RIGHT_SIZED_POD.vcpu;
    const memoryShare = peakRss / RIGHT_SIZED_POD.memoryMiB;
    return {
      what: "the web server's CPU (cores used: CPU seconds per wall second) and resident memory (peak, and steady: median of each window's second half) with N chats streaming at all times through the whole local stack",
      emulated: "RunPod's cloud is emulated (src/emulator on loopback). Real: the web server (the image's command, LLM_PROVIDER=runpod_serverless: our job client), the RunPod Python SDK worker processes and handler.py; the echo engine stands in for vLLM",
      machine: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0]!, 2), note: "the server shares the machine's cores with the emulator, the workers, this client and whatever else runs: cores used are what it got; machineBusyCores says how loaded the machine was in each window" },
      settings: { levels: settings.levels, windowSeconds: settings.windowSeconds, rampSeconds: RAMP_MS / 1000, tokensPerAnswer: settings.tokens, tokenDelayMs: settings.tokenDelayMs, rssSampleEveryMs: SAMPLE_EVERY_MS, metricsScrapeEveryMs: SCRAPE_EVERY_MS },
      warmupChats: { sent: warmup.length, ok: warmup.filter((w) => w.ok).length },
      idle,
      levels,
      rightSized: {
        pod: RIGHT_SIZED_POD.name,
        config: RIGHT_SIZED_POD.config,
        vcpu: RIGHT_SIZED_POD.vcpu,
        memoryMiB: RIGHT_SIZED_POD.memoryMiB,
        at: `${top} streams`,
        cpuShareAtPeak: round(cpuShare, 3),
        cpuShareCounts: "the larger of the cores measured and the estimate at the paced rate",
        memoryShareAtPeak: round(memoryShare, 3),
        headroomAsked: `peak within ${HEADROOM_SHARE * 100} % of the pod's vCPUs and memory`,
        holdsWithHeadroom: cpuShare <= HEADROOM_SHARE && memoryShare <= HEADROOM_SHARE && atTop.failures === 0,
      },
      totalSeconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }
}

printWhenRunAlone(module, run);
