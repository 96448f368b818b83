// The benchmark's RunPod, in a process of its own: the local emulator (job API, worker protocol) with real RunPod
// SDK worker processes running handler/handler.py and its echo engine, for two endpoints:
//   warm  kept up for the whole run (idle timeout of an hour), the latency arms run against it;
//   cold  scales to zero one second after each job, so every chat on it starts a worker (a cold start).
// Besides RunPod's routes it answers GET /_bench/jobs?marker=...: the emulator's own clock readings of the job whose
// last user message starts with that marker (queued, taken by a worker, first and last streamed chunk, result posted), so the
// client can tell the worker's time from the time our layers add.
// It prints one line `BENCH-EMULATOR {json}` once it listens, and stops its workers on SIGTERM.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { buildEmulator } from "../src/emulator/emulator";
import type { Job, JobEndpoint } from "../src/emulator/job-store";

export interface BenchEmulatorInfo {
  origin: string;
  apiKey: string;
  warmEndpointId: string;
  coldEndpointId: string;
}

export interface JobTimings {
  jobId: string;
  status: string;
  /** Emulator clock (ms since the epoch), each when it happened in the emulator. */
  queuedAt: number;
  takenAt?: number;
  firstChunkAt?: number;
  lastChunkAt?: number;
  finishedAt?: number;
  chunks: number;
}

function markerOf(input: unknown): string | undefined {
  const messages = (input as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages;
  if (!Array.isArray(messages)) return undefined;
  const last = [...messages].reverse().find((m) => m?.role === "user");
  return typeof last?.content === "string" ? last.content.split(" ", 1)[0] : undefined;
}

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, "..");
  const python = path.join(repo, ".venv", "bin", "python");
  if (!existsSync(python)) throw new Error(`${python} is missing: run \`bash scripts/setup.sh\` first`);
  const apiKey = `bench-${randomBytes(12).toString("hex")}`;
  const endpoints: Record<string, JobEndpoint> = {
    "bench-warm": { id: "bench-warm", workersMax: Number(process.env.BENCH_WORKERS_MAX ?? 2), workersMin: 0, idleTimeout: 3600, executionTimeoutMs: 600_000 },
    "bench-cold": { id: "bench-cold", workersMax: 1, workersMin: 0, idleTimeout: 1, executionTimeoutMs: 600_000 },
  };
  const app = await buildEmulator({
    apiKey,
    jobs: {
      endpoints: (id) => endpoints[id],
      executor: "workers",
      workers: {
        python,
        handler: path.join(repo, "handler", "handler.py"),
        cwd: repo,
        // The worker as production runs it (STREAM_BATCH_TOKENS and MAX_CONCURRENCY at their defaults), with the
        // echo engine paced like a model: ECHO_TOKEN_DELAY_MS between tokens.
        env: { ENGINE: "echo", ECHO_TOKEN_DELAY_MS: process.env.BENCH_TOKEN_DELAY_MS ?? "20" },
      },
    },
  });

  const timings = new Map<string, JobTimings>();
  const byMarker = new Map<string, string>();
  const store = app.jobSystem.store;
  store.on("change", (job: Job) => {
    let t = timings.get(job.id);
    if (!t) {
      t = { jobId: job.id, status: job.status, queuedAt: job.createdAt, chunks: 0 };
      timings.set(job.id, t);
      const marker = markerOf(job.input);
      if (marker) byMarker.set(marker, job.id);
    }
    t.status = job.status;
    if (job.startedAt !== undefined) t.takenAt = job.startedAt;
    if (job.finishedAt !== undefined) t.finishedAt = job.finishedAt;
  });
  store.on("stream", (job: Job) => {
    const t = timings.get(job.id);
    if (!t) return;
    t.chunks = job.stream.length;
    t.firstChunkAt ??= store.now();
    t.lastChunkAt = store.now();
  });
  app.get("/_bench/jobs", async (request, reply) => {
    const marker = (request.query as { marker?: string }).marker ?? "";
    const id = byMarker.get(marker);
    const t = id ? timings.get(id) : undefined;
    if (!t) return reply.code(404).send({ error: `no job for marker ${marker}` });
    return t;
  });

  // Every job's readings, oldest first (the MetaHuman OS bench matches a chat's jobs by time).
  app.get("/_bench/all-jobs", async () => [...timings.values()]);

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("the emulator has no TCP address");
  const info: BenchEmulatorInfo = { origin: `http://127.0.0.1:${address.port}`, apiKey, warmEndpointId: "bench-warm", coldEndpointId: "bench-cold" };
  process.stdout.write(`BENCH-EMULATOR ${JSON.stringify(info)}\n`);

  const stop = () => {
    void app.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench emulator failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
