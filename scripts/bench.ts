// `npm run bench`: every benchmark of the project in one run, printed as one JSON document (progress on stderr).
//   chatLatency   first and last token of a chat through the whole local stack for our adapter, a MetaHuman OS-style
//                 /runsync + 1 s /status client and runpod-sdk; cold start; the overhead around the worker; the web
//                 server's memory while chats stream through the stack (scripts/bench-chat-latency.ts)
//   serverMemory  the web server's memory idle and with 50 streaming chats on the mock provider (bench-server-memory.ts)
//   rightSize     the web server's CPU (cores used) and memory (peak, steady) at 1, 10 and 50 concurrent streaming
//                 chats through the stack, set against the right-sized 2 vCPU cpu3c pod (bench-right-size.ts)
//   gpuBilling    billed versus useful GPU time per plan profile, set against the cost model (bench-gpu-billing.ts)
//   metahumanOs   the web pod as deployed (MetaHuman OS behind the door, with the gateway): start to first page, memory
//                 idle and with 10 chats, a chat's time against its jobs' worker times and cold starts, and what the
//                 gateway adds over the worker (bench-metahuman-os.ts)
// RunPod's cloud is emulated (src/emulator on loopback); the web server, the clients, the RunPod SDK worker and the
// handler are real, with the echo engine in place of vLLM. Settings: BENCH_TOKENS, BENCH_TOKEN_DELAY_MS, BENCH_SAMPLES,
// BENCH_LANES, BENCH_COLD_SAMPLES, BENCH_MEMORY_STREAMS (see bench-chat-latency.ts), BENCH_RIGHT_SIZE_LEVELS,
// BENCH_RIGHT_SIZE_SECONDS (see bench-right-size.ts).
import os from "node:os";
import { run as chatLatency } from "./bench-chat-latency";
import { run as metahumanOs } from "./bench-metahuman-os";
import { runGpuBillingBench } from "./bench-gpu-billing";
import { run as rightSize } from "./bench-right-size";
import { run as serverMemory } from "./bench-server-memory";

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const results: Record<string, unknown> = {};
  const benches: [string, () => Promise<unknown>][] = [["chatLatency", () => chatLatency()], ["serverMemory", serverMemory], ["rightSize", () => rightSize()], ["gpuBilling", () => runGpuBillingBench()], ["metahumanOs", () => metahumanOs()]];
  for (const [name, bench] of benches) {
    process.stderr.write(`bench: ${name}...\n`);
    results[name] = await bench();
  }
  const machine = { node: process.version, platform: process.platform, arch: process.arch, cpus: os.cpus().length, loadAverage1m: os.loadavg()[0] };
  process.stdout.write(`${JSON.stringify({ started, machine, ...results }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
