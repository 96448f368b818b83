// Jobs through the job API to real RunPod SDK worker processes (handler/handler.py, ENGINE=echo):
// complete, streamed, cancelled (reaching the handler), and scale to zero with a real cold start.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import type { WorkerManager } from "../../src/emulator/worker-manager";
import { createRunpodServerlessProvider } from "../../src/app/llm/runpod-serverless";
import type { LLMStreamEvent } from "../../src/app/llm/types";

const requireVenv = () => {
  if (!existsSync(".venv/bin/python")) throw new Error(".venv/bin/python is missing: run `bash scripts/setup-python.sh` first (these tests run real RunPod SDK workers from it)");
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("real SDK workers", () => {
  let emu: RunningEmulator;
  let manager: WorkerManager;
  const provider = () => createRunpodServerlessProvider({ endpointId: emu.endpoint.id, apiKey: API_KEY, baseURL: emu.serverlessUrl, progressIntervalMs: 1000 });

  beforeAll(async () => {
    requireVenv();
    emu = await startEmulator(
      { executor: "workers", workerPollWaitMs: 2000, workers: { idleTimeoutMs: 2500, env: { ECHO_TOKEN_DELAY_MS: "60", STREAM_BATCH_TOKENS: "1" } } },
      { workersMax: 1 },
    );
    manager = emu.app.jobSystem.executor as WorkerManager;
  });
  afterAll(async () => {
    if (!emu) return;
    await emu.close();
    // Every worker process is gone once the emulator closed.
    expect(manager.processCount()).toBe(0);
  });

  it("starts from zero workers, reports the cold start, and completes a job in the real SDK loop", async () => {
    expect(manager.processCount()).toBe(0);
    const progress: string[] = [];
    const events: LLMStreamEvent[] = [];
    for await (const e of provider().stream([{ role: "user", content: "hello from the emulator" }], { maxTokens: 32 })) {
      events.push(e);
      if (e.type === "progress") progress.push(e.stage);
    }
    expect(progress[0]).toBe("cold-start");
    expect(progress).toContain("running");
    const deltas = events.filter((e) => e.type === "text-delta").map((e) => (e as { text: string }).text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toContain("hello from the emulator");
    expect(events.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
    expect(manager.processCount()).toBe(1);
    const health = await call(emu, "GET", "/health");
    expect(health.body.workers).toMatchObject({ ready: 1, idle: 1, initializing: 0 });
  });

  it("completes a non-streamed job with the worker contract output", async () => {
    const res = await provider().generate([{ role: "user", content: "one two three" }], { maxTokens: 2, temperature: 0 });
    expect(res.content).toContain("one two");
    expect(res.usage?.completionTokens).toBe(2);
  });

  it("a cancel reaches the handler: the job is CANCELLED and the worker stops it", async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const run = await call(emu, "POST", "/run", { input: { messages: [{ role: "user", content: words }], max_tokens: 500, temperature: 0 } });
    for (let i = 0; i < 100 && (await call(emu, "GET", `/status/${run.body.id}`)).body.status !== "IN_PROGRESS"; i++) await sleep(50);
    const cancel = await call(emu, "POST", `/cancel/${run.body.id}`);
    expect(cancel.body.status).toBe("CANCELLED");
    const workerId = (await call(emu, "GET", `/status/${run.body.id}`)).body.workerId as string;
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      stopped = manager.outputOf(workerId).some((l) => l.includes("Job stopped") && l.includes(run.body.id));
      if (!stopped) await sleep(50);
    }
    if (!stopped) console.log(manager.outputOf(workerId).slice(-30).join("\n"));
    expect(stopped).toBe(true);
    // The worker is free again at once: the next job completes.
    expect((await provider().generate([{ role: "user", content: "after cancel" }])).content).toContain("after cancel");
  });

  // Issue 18 M2: these stalled a job until its execution timeout (the SDK could not post a lone surrogate back;
  // its fetch raised RecursionError at 1,000 levels). Now each ends FAILED within seconds, naming the field.
  // Raw JSON text: JSON.stringify itself overflows the stack on the deepest of these.
  const deepObjects = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  const deepLists = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const stalling: [string, string, RegExp][] = [
    ["a lone surrogate in a chat", JSON.stringify({ messages: [{ role: "user", content: "a\ud800b" }], max_tokens: 8 }), /^input\.messages\[0\]\.content: .*lone UTF-16 surrogate \(U\+D800\) at character 1/],
    ["a lone surrogate in a prompt", JSON.stringify({ prompt: "\udfff", stream: true }), /^input\.prompt: .*lone UTF-16 surrogate \(U\+DFFF\)/],
    ["JSON nested 1,000 deep", `{"messages":[{"role":"user","content":"hi"}],"extra":${deepLists(1_000)}}`, /^input\.extra(\[0\])+: nested deeper than 32 levels is not allowed/],
    ["JSON nested 10,000 deep", `{"prompt":"hi","x":${deepObjects(10_000)}}`, /^input\.x(\.a)+: nested deeper than 32 levels/],
  ];
  const runRaw = async (body: string) => {
    const res = await fetch(`${emu.serverlessUrl}/${emu.endpoint.id}/run`, { method: "POST", headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" }, body });
    return { status: res.status, body: (await res.json()) as { id: string } };
  };
  for (const [name, input, error] of stalling) {
    it(`a job with ${name} ends FAILED within seconds, naming the field, and the worker takes the next job`, async () => {
      const started = Date.now();
      const run = await runRaw(`{"input":${input},"policy":{"executionTimeout":120000}}`);
      expect(run.status).toBe(200);
      const done = await call(emu, "GET", `/status-sync/${run.body.id}?wait=20000`);
      expect(done.body.status).toBe("FAILED");
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(String(done.body.error)).toMatch(error);
      expect((await provider().generate([{ role: "user", content: "still here" }], { maxTokens: 4 })).content).toContain("still here");
    });
  }

  it("one input nested 50,000 deep breaks neither /_emulator/jobs nor the next job fetch (issue 18 L8)", { timeout: 30_000 }, async () => {
    // Past what the SDK's fetch can parse (handler.SDK_RECURSION_LIMIT, 20,000 levels): the worker never sees this
    // job, so it ends at its execution timeout, as it would on RunPod. What must hold is everything around it.
    const deep = await runRaw(`{"input":{"prompt":"hi","x":${deepLists(50_000)}},"policy":{"executionTimeout":5000}}`);
    expect(deep.status).toBe(200);
    const jobs = await fetch(`${emu.origin}/_emulator/jobs?endpointId=${emu.endpoint.id}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(jobs.status).toBe(200);
    const text = await jobs.text();
    expect(text).toContain(deep.body.id);
    expect(text).toContain("[".repeat(50_000));
    const done = await call(emu, "GET", `/status-sync/${deep.body.id}?wait=20000`);
    expect(["TIMED_OUT", "FAILED"]).toContain(done.body.status);
    expect((await provider().generate([{ role: "user", content: "after the deep one" }], { maxTokens: 8 })).content).toContain("after the deep one");
    expect((await fetch(`${emu.origin}/_emulator/jobs`, { headers: { authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
  });

  it("scales to zero after the idle timeout, and the next job cold-starts a new worker", async () => {
    for (let i = 0; i < 100 && manager.processCount() > 0; i++) await sleep(100);
    expect(manager.processCount()).toBe(0);
    const health = await call(emu, "GET", "/health");
    expect(health.body.workers).toMatchObject({ ready: 0, idle: 0, running: 0, initializing: 0 });
    expect((await provider().health()).state).toBe("cold");
    const run = await call(emu, "POST", "/run", { input: { messages: [{ role: "user", content: "wake up" }], max_tokens: 8, temperature: 0 } });
    await sleep(50);
    expect((await call(emu, "GET", "/health")).body.workers.initializing).toBe(1);
    const done = await call(emu, "GET", `/status-sync/${run.body.id}?wait=30000`);
    expect(done.body.status).toBe("COMPLETED");
    expect(manager.processCount()).toBe(1);
    expect(manager.lifeEvents().filter((e) => e.type === "start")).toHaveLength(2);
    expect(manager.workerSeconds(emu.endpoint.id)).toBeGreaterThan(0);
  });
});
