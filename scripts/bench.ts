// `npm run bench`: every benchmark of the project in one run, printed as one JSON document.
// Each bench module exports `run()` and measures against real servers on loopback.
import { run as jobLatency } from "./bench-job-latency";
import { run as serverMemory } from "./bench-server-memory";

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const results: Record<string, unknown> = {};
  for (const [name, bench] of [["jobLatency", jobLatency], ["serverMemory", serverMemory]] as const) {
    process.stderr.write(`bench: ${name}...\n`);
    results[name] = await bench();
  }
  const machine = { node: process.version, platform: process.platform, arch: process.arch, cpus: (await import("node:os")).cpus().length };
  process.stdout.write(`${JSON.stringify({ started, machine, ...results }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
