// The emulator's job API over real HTTP, with the in-process executor.
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { API_KEY, call, startEmulator, type RunningEmulator } from "./emulator-fixture";
import type { InProcessHandler } from "../../src/emulator/job-executor-in-process";

const messages = [{ role: "user", content: "hello there" }];
let emu: RunningEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("job API", () => {
  it("queues with /run and answers /status-sync with the worker's output and timings", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 30 } });
    const run = await call(emu, "POST", "/run", { input: { messages, max_tokens: 8, temperature: 0 } });
    expect(run.status).toBe(200);
    expect(run.body).toEqual({ id: expect.any(String), status: "IN_QUEUE" });
    const done = await call(emu, "GET", `/status-sync/${run.body.id}?wait=5000`);
    expect(done.body.status).toBe("COMPLETED");
    // The worker's answer to a job that does not stream: worker-vllm's one-element list with the whole text.
    expect(done.body.output).toEqual([{ choices: [{ tokens: ["hello there"], finish_reason: "stop" }], model: "echo", usage: { input: 2, output: 2 } }]);
    expect(done.body.executionTime).toBeGreaterThanOrEqual(25);
    expect(done.body.delayTime).toBeGreaterThanOrEqual(0);
    const status = await call(emu, "GET", `/status/${run.body.id}`);
    expect(status.body).toEqual(done.body);
  });

  it("rejects a wrong key, an unknown endpoint, an unknown job and a body without input", async () => {
    emu = await startEmulator();
    expect((await call(emu, "POST", "/run", { input: {} }, "wrong")).status).toBe(401);
    const unknownEndpoint = await fetch(`${emu.serverlessUrl}/nope/health`, { headers: { authorization: "Bearer test-key-serverless" } });
    expect(unknownEndpoint.status).toBe(404);
    const missing = await call(emu, "GET", "/status/does-not-exist");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toContain("does-not-exist");
    const bad = await call(emu, "POST", "/run", { notInput: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain("input");
    const badWait = await call(emu, "POST", "/runsync?wait=10", { input: {} });
    expect(badWait.status).toBe(400);
    expect(badWait.body.error).toContain("wait=");
  });

  it("/runsync returns the result when done in time, and a non-final {id, status} otherwise", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 1500 } });
    const slow = await call(emu, "POST", "/runsync?wait=1000", { input: { messages } });
    expect(slow.body).toEqual({ id: expect.any(String), status: "IN_PROGRESS" });
    const done = await call(emu, "GET", `/status-sync/${slow.body.id}?wait=5000`);
    expect(done.body.status).toBe("COMPLETED");
  });

  it("forgets finished jobs after their retention: 404 once the TTL passed", async () => {
    emu = await startEmulator({ runsyncRetentionMs: 100, runRetentionMs: 300 });
    const sync = await call(emu, "POST", "/runsync", { input: { messages } });
    expect(sync.body.status).toBe("COMPLETED");
    const run = await call(emu, "POST", "/run", { input: { messages } });
    await call(emu, "GET", `/status-sync/${run.body.id}?wait=2000`);
    await sleep(150);
    expect((await call(emu, "GET", `/status/${sync.body.id}`)).status).toBe(404);
    expect((await call(emu, "GET", `/status/${run.body.id}`)).status).toBe(200);
    await sleep(250);
    expect((await call(emu, "GET", `/status/${run.body.id}`)).status).toBe(404);
  });

  it("times a job out after the endpoint's execution timeout, and /retry re-queues it", async () => {
    let attempts = 0;
    const handler: InProcessHandler = async (_job, ctx) => {
      attempts += 1;
      if (attempts === 1) await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      return { response: "second time", model: "m", finish_reason: "stop" };
    };
    emu = await startEmulator({ inProcess: { handler } }, { executionTimeoutMs: 150 });
    const run = await call(emu, "POST", "/run", { input: { messages } });
    const timedOut = await call(emu, "GET", `/status-sync/${run.body.id}?wait=5000`);
    expect(timedOut.body.status).toBe("TIMED_OUT");
    const retry = await call(emu, "POST", `/retry/${run.body.id}`);
    expect(retry.body).toEqual({ id: run.body.id, status: "IN_QUEUE" });
    const done = await call(emu, "GET", `/status-sync/${run.body.id}?wait=5000`);
    expect(done.body).toMatchObject({ status: "COMPLETED", output: { response: "second time" } });
    const health = await call(emu, "GET", "/health");
    expect(health.body.jobs).toMatchObject({ completed: 1, failed: 1, retried: 1, inQueue: 0, inProgress: 0 });
    expect((await call(emu, "POST", `/retry/${run.body.id}`)).status).toBe(400);
  });

  it("fails a job whose handler throws or returns {error}, with the worker's message", async () => {
    const handler: InProcessHandler = async (job) => {
      if ((job.input as { kind: string }).kind === "throw") throw new Error("CUDA out of memory");
      return { error: "messages[0].role: must be system, user or assistant" };
    };
    emu = await startEmulator({ inProcess: { handler } });
    const thrown = await call(emu, "POST", "/runsync", { input: { kind: "throw" } });
    expect(thrown.body.status).toBe("FAILED");
    expect(thrown.body.error).toContain("CUDA out of memory");
    const returned = await call(emu, "POST", "/runsync", { input: { kind: "return" } });
    expect(returned.body).toMatchObject({ status: "FAILED", error: expect.stringContaining("messages[0].role") });
  });

  it("streams chunks through /stream, each chunk handed out once", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 60 } });
    const run = await call(emu, "POST", "/run", { input: { messages, stream: true } });
    const chunks: unknown[] = [];
    let status = "IN_QUEUE";
    while (!["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"].includes(status)) {
      const res = await call(emu, "GET", `/stream/${run.body.id}`);
      status = res.body.status;
      chunks.push(...res.body.stream.map((c: { output: unknown }) => c.output));
    }
    expect(status).toBe("COMPLETED");
    expect(chunks.length).toBeGreaterThan(1);
    // worker-vllm's streamed chunk shape.
    expect(chunks.map((c) => (c as { choices: { tokens: string[] }[] }).choices[0]!.tokens.join("")).join("")).toBe("hello there");
  });

  it("cancels a running job: CANCELLED, and the handler sees the abort", async () => {
    let aborted = false;
    const handler: InProcessHandler = (_job, ctx) =>
      new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => {
          aborted = true;
          reject(ctx.signal.reason);
        }),
      );
    emu = await startEmulator({ inProcess: { handler } });
    const run = await call(emu, "POST", "/run", { input: { messages } });
    await sleep(50);
    expect((await call(emu, "GET", `/status/${run.body.id}`)).body.status).toBe("IN_PROGRESS");
    const cancel = await call(emu, "POST", `/cancel/${run.body.id}`);
    expect(cancel.body).toEqual({ id: run.body.id, status: "CANCELLED" });
    expect(aborted).toBe(true);
    expect((await call(emu, "GET", `/status/${run.body.id}`)).body.status).toBe("CANCELLED");
  });

  it("accepts POSTs that say application/json and send no body, as runpod-python's cancel and purge_queue do (issue 10)", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 2000 } }, { workersMax: 1 });
    const running = await call(emu, "POST", "/run", { input: { messages } });
    const queued = await call(emu, "POST", "/run", { input: { messages } });
    const cancelled = await call(emu, "POST", "/run", { input: { messages } });
    const bare = (path: string) =>
      fetch(`${emu!.serverlessUrl}/${emu!.endpoint.id}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      });
    const cancel = await bare(`/cancel/${cancelled.body.id}`);
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ id: cancelled.body.id, status: "CANCELLED" });
    // A cancelled job leaves the queue at once.
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ inQueue: 1, inProgress: 1 });
    const purge = await bare("/purge-queue");
    expect(purge.status).toBe(200);
    expect(await purge.json()).toEqual({ removed: 1, status: "completed" });
    expect((await call(emu, "GET", `/status/${queued.body.id}`)).status).toBe(404);
    expect((await call(emu, "GET", `/status/${running.body.id}`)).body.status).toBe("IN_PROGRESS");
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ inQueue: 0, inProgress: 1 });
    // A JSON body that is not empty is still parsed, and broken JSON is still refused.
    const broken = await fetch(`${emu.serverlessUrl}/${emu.endpoint.id}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    // /run without a body is a missing input, in the job API's words.
    const empty = await bare("/run");
    expect(empty.status).toBe(400);
    expect((await empty.json()).error).toContain("input");
  });

  it("bounds the test controls: at most 100 queued faults of at most 10 000 requests each, at most 1000 jobs inspected", async () => {
    emu = await startEmulator();
    const fault = (body: unknown) =>
      fetch(`${emu!.origin}/_emulator/job-faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await fault({ op: "status", status: 503, count: 10_001 })).status).toBe(400);
    for (let i = 0; i < 100; i++) expect((await fault({ op: "status", status: 503 })).status).toBe(200);
    const refused = await fault({ op: "status", status: 503 });
    expect(refused.status).toBe(400);
    expect((await refused.json()).error).toContain("at most 100 faults");
    await fetch(`${emu.origin}/_emulator/job-faults`, { method: "DELETE" });
    expect((await fault({ op: "status", status: 503 })).status).toBe(200);
    // Inspection answers at most `limit` jobs (1000 at most), the newest.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call(emu, "POST", "/run", { input: { messages } })).body.id);
    const newest = (await (await fetch(`${emu.origin}/_emulator/jobs?limit=2`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as Array<{ id: string }>;
    expect(newest.map((j) => j.id)).toEqual(ids.slice(1));
    expect((await fetch(`${emu.origin}/_emulator/jobs?limit=1001`, { headers: { authorization: `Bearer ${API_KEY}` } })).status).toBe(400);
  });

  it("POSTs the final status to a loopback webhook, retrying an answer that is not 2xx; refuses other webhooks", async () => {
    const calls: Array<{ status: string; id: string; output: unknown }> = [];
    const hook = createServer((req, res) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString("utf8")));
      req.on("end", () => {
        calls.push(JSON.parse(text));
        res.writeHead(calls.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    try {
      const hookOrigin = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
      emu = await startEmulator({ webhookRetryDelayMs: 50, webhookOrigins: [hookOrigin] });
      const webhook = `${hookOrigin}/done`;
      const run = await call(emu, "POST", "/run", { input: { messages }, webhook });
      expect(run.status).toBe(200);
      for (let i = 0; i < 100 && calls.length < 2; i++) await sleep(20);
      expect(calls).toHaveLength(2);
      expect(calls[1]).toEqual(calls[0]);
      expect(calls[0]).toMatchObject({ id: run.body.id, status: "COMPLETED", output: [{ choices: [{ tokens: ["hello there"] }] }] });
      await sleep(100);
      expect(calls).toHaveLength(2);
      const outside = await call(emu, "POST", "/run", { input: { messages }, webhook: "https://example.com/hook" });
      expect(outside.status).toBe(400);
      expect(outside.body.error).toContain("webhook");
      // Issue 18 L9: another loopback service (here the emulator itself) is not where the test configured webhooks.
      for (const other of [`${emu.origin}/_emulator/faults`, "http://127.0.0.1:1/x", "http://localhost:" + new URL(hookOrigin).port + "/done"]) {
        const refused = await call(emu, "POST", "/run", { input: { messages }, webhook: other });
        expect(refused.status, other).toBe(400);
        expect(refused.body.error).toBe(`invalid request body: webhook: ${JSON.stringify(other)} is not allowed; the emulator calls webhooks only at the origins it was started with: ${hookOrigin}`);
      }
      expect(calls).toHaveLength(2);
    } finally {
      hook.close();
    }
  });

  it("answers 429 with Retry-After over the rate limit", async () => {
    emu = await startEmulator({ rateLimits: { health: 2 } });
    expect((await call(emu, "GET", "/health")).status).toBe(200);
    expect((await call(emu, "GET", "/health")).status).toBe(200);
    const limited = await call(emu, "GET", "/health");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.body.error).toContain("rate limit");
  });

  it("purges queued jobs but not running ones, and reports a cold start in /health", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 400, coldStartMs: 200 } }, { workersMax: 1 });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await call(emu, "POST", "/run", { input: { messages } })).body.id);
    const cold = await call(emu, "GET", "/health");
    expect(cold.body.workers).toMatchObject({ initializing: 1, ready: 0, idle: 0, running: 0 });
    expect(cold.body.jobs.inQueue).toBe(3);
    await sleep(300);
    const purge = await call(emu, "POST", "/purge-queue");
    expect(purge.body).toEqual({ removed: 2, status: "completed" });
    const warm = await call(emu, "GET", "/health");
    expect(warm.body.workers).toMatchObject({ initializing: 0, running: 1, ready: 1 });
    expect((await call(emu, "GET", `/status-sync/${ids[0]}?wait=5000`)).body.status).toBe("COMPLETED");
    expect((await call(emu, "GET", `/status/${ids[2]}`)).status).toBe(404);
  });

  it("scales the in-process workers to zero after the idle timeout and reports worker-seconds to billing", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 50, idleTimeoutMs: 100 } });
    await call(emu, "POST", "/runsync", { input: { messages } });
    expect((await call(emu, "GET", "/health")).body.workers.ready).toBe(1);
    await sleep(300);
    expect((await call(emu, "GET", "/health")).body.workers).toMatchObject({ ready: 0, idle: 0, initializing: 0 });
    const accruals = emu.app.billing.accruals("serverless");
    expect(accruals).toHaveLength(1);
    expect(accruals[0]).toMatchObject({ id: "ep-test" });
    expect(accruals[0]!.to! - accruals[0]!.from).toBeGreaterThanOrEqual(50);
    expect(emu.app.jobSystem.executor.workerSeconds("ep-test")).toBeGreaterThan(0.05);
  });
});
