// Memory and CPU readings of a running web server for the benchmarks: resident memory and CPU time from /proc (the
// process and its children) and, from the server's own /metrics (with its MONITORING_TOKEN), V8's used heap, the
// process's CPU seconds (process.cpuUsage) and its open chat streams.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

export interface MemorySample {
  rssMiB: number;
  rssWithChildrenMiB: number;
  heapUsedMiB: number;
}

/** Resident memory of a process and of its descendants (tsx's esbuild service is a child of the server), in MiB. */
export function rssMiB(pid: number): { process: number; withChildren: number } {
  const rssOf = (p: number): number => {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  };
  const total = descendantsAndSelf(pid).reduce((sum, p) => sum + rssOf(p), 0);
  const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
  return { process: mib(rssOf(pid)), withChildren: mib(total) };
}

/** RSS of the server process (and children) and its used heap. */
export async function memorySample(url: string, pid: number, monitoringToken: string): Promise<MemorySample> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${monitoringToken}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const heap = Number(/^metahuman_nodejs_heap_size_used_bytes (\S+)/m.exec(await res.text())?.[1] ?? NaN);
  const rss = rssMiB(pid);
  return { rssMiB: rss.process, rssWithChildrenMiB: rss.withChildren, heapUsedMiB: Math.round((heap / 1024 / 1024) * 10) / 10 };
}

/** The larger of each reading. */
export function peakOf(a: MemorySample, b: MemorySample): MemorySample {
  return { rssMiB: Math.max(a.rssMiB, b.rssMiB), rssWithChildrenMiB: Math.max(a.rssWithChildrenMiB, b.rssWithChildrenMiB), heapUsedMiB: Math.max(a.heapUsedMiB, b.heapUsedMiB) };
}

/**
 * Reads `sample` every `intervalMs` until `stop()`, which resolves with the peak of everything read,
 * `start` included: the memory high-water mark of a stretch of work.
 */
export function watchPeak(sample: () => Promise<MemorySample>, start: MemorySample, intervalMs: number): { stop(): Promise<MemorySample> } {
  let peak = start;
  let watching = true;
  const loop = (async () => {
    while (watching) {
      peak = peakOf(peak, await sample());
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return peak;
    },
  };
}

/** A bench file run on its own (`npx tsx scripts/bench-x.ts`): its JSON on stdout, or the error and exit 1. */
export function printWhenRunAlone(main: NodeJS.Module, run: () => Promise<unknown>): void {
  if (require.main !== main) return;
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}

/** A process and all its descendants (from /proc/<pid>/task/<tid>/children). */
function descendantsAndSelf(pid: number): number[] {
  const children = (p: number): number[] => {
    try {
      return fs.readdirSync(`/proc/${p}/task`).flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  const all: number[] = [];
  for (const stack = [pid]; stack.length > 0; ) {
    const p = stack.pop()!;
    all.push(p);
    stack.push(...children(p));
  }
  return all;
}

let clockTicks: number | undefined;

/** CPU seconds (user + system) a process has used, and with its descendants, from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number): { process: number; withChildren: number } {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const ticksOf = (p: number): number => {
    try {
      // Fields after the command (which may hold spaces) in parentheses: utime and stime are the 14th and 15th.
      const fields = fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ").at(-1)!.split(" ");
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  const total = descendantsAndSelf(pid).reduce((sum, p) => sum + ticksOf(p), 0);
  return { process: ticksOf(pid) / clockTicks, withChildren: total / clockTicks };
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat: how loaded the machine was. */
export function machineCpuTicks(): { busy: number; total: number } {
  const [, ...values] = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
  const n = values.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: total - idle, total };
}

export interface MetricsReading {
  /** process_cpu_seconds_total: the server's own process.cpuUsage(), user + system. */
  cpuSeconds: number;
  heapUsedMiB: number;
  activeStreams: number;
}

/** One read of the server's /metrics. */
export async function metricsReading(url: string, monitoringToken: string): Promise<MetricsReading> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${monitoringToken}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN);
  return {
    cpuSeconds: value("metahuman_process_cpu_seconds_total"),
    heapUsedMiB: Math.round((value("metahuman_nodejs_heap_size_used_bytes") / 1024 / 1024) * 10) / 10,
    activeStreams: value("metahuman_chat_streams_active"),
  };
}
