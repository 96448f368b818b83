// The worker manager's scale-to-zero with a real SDK worker process: idle counts from the end of the worker's
// last job, however it ended, not from when it took that job.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import type { WorkerManager } from "../../src/emulator/worker-manager";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("worker manager", () => {
  let emu: RunningEmulator;
  let manager: WorkerManager;

  beforeAll(async () => {
    emu = await startEmulator(
      { executor: "workers", workerPollWaitMs: 2000, workers: { idleTimeoutMs: 1500, env: { ECHO_TOKEN_DELAY_MS: "20", STREAM_BATCH_TOKENS: "1" } } },
      { workersMax: 1 },
    );
    manager = emu.app.jobSystem.executor as WorkerManager;
  });
  afterAll(async () => {
    await emu.close();
    expect(manager.processCount()).toBe(0);
  });

  it("keeps a worker whose job ran longer than the idle timeout and was cancelled: the next job needs no cold start", async () => {
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const run = await call(emu, "POST", "/run", { input: { messages: [{ role: "user", content: words }], max_tokens: 300, temperature: 0 } });
    for (let i = 0; i < 300 && (await call(emu, "GET", `/status/${run.body.id}`)).body.status !== "IN_PROGRESS"; i++) await sleep(50);
    // Longer than the idle timeout, counted from when the worker took the job.
    await sleep(2000);
    expect((await call(emu, "POST", `/cancel/${run.body.id}`)).body.status).toBe("CANCELLED");
    await sleep(500);
    const next = await call(emu, "POST", "/runsync", { input: { messages: [{ role: "user", content: "right after" }], max_tokens: 4, temperature: 0 } });
    expect(next.body.status, JSON.stringify(next.body)).toBe("COMPLETED");
    expect(manager.lifeEvents().filter((e) => e.type === "start"), JSON.stringify(manager.lifeEvents())).toHaveLength(1);
  });

  it("a worker being stopped for idleness takes no job: a job that comes meanwhile waits for the next worker", async () => {
    // Jobs arrive just after the idle timeout (1.5 s, checked every 100 ms) has begun to stop the worker,
    // at a few offsets; each must complete (a job the stopping worker took failed when it exited).
    for (const offsetMs of [1560, 1620, 1680]) {
      const warm = await call(emu, "POST", "/runsync", { input: { messages: [{ role: "user", content: "then idle" }], max_tokens: 4, temperature: 0 } });
      expect(warm.body.status).toBe("COMPLETED");
      await sleep(offsetMs);
      const late = await call(emu, "POST", "/runsync", { input: { messages: [{ role: "user", content: `at ${offsetMs}` }], max_tokens: 4, temperature: 0 } });
      expect(late.body.status, JSON.stringify(late.body)).toBe("COMPLETED");
    }
  });
});

describe("worker manager with an idle timeout shorter than a cold start", () => {
  it("the worker started for a job runs it: idle counts from the end of the cold start, not from the process start", async () => {
    const emu = await startEmulator({ executor: "workers", workerPollWaitMs: 2000, workers: { idleTimeoutMs: 300 } }, { workersMax: 1 });
    const manager = emu.app.jobSystem.executor as WorkerManager;
    try {
      const done = await call(emu, "POST", "/runsync", { input: { messages: [{ role: "user", content: "first job" }], max_tokens: 4, temperature: 0 } });
      expect(done.body.status, JSON.stringify(done.body)).toBe("COMPLETED");
      expect(manager.lifeEvents().filter((e) => e.type === "start"), JSON.stringify(manager.lifeEvents())).toHaveLength(1);
    } finally {
      await emu.close();
    }
    expect(manager.processCount()).toBe(0);
  });
});
