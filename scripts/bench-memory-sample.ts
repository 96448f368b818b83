// Memory readings of a running web server for the benchmarks: resident memory from /proc (the process and its
// children) and V8's used heap from the server's /metrics (with its MONITORING_TOKEN).
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
  const children = (p: number): number[] => {
    try {
      return fs.readdirSync(`/proc/${p}/task`).flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  let total = 0;
  for (const stack = [pid]; stack.length > 0; ) {
    const p = stack.pop()!;
    total += rssOf(p);
    stack.push(...children(p));
  }
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
