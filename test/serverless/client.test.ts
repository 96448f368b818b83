// The job API client and the runpod_serverless provider, over HTTP against the emulator.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { API_KEY, startEmulator, type RunningEmulator } from "./emulator-fixture";
import type { InProcessHandler } from "../../src/emulator/job-executor-in-process";
import { RunpodServerlessClient, type JobProgress } from "../../src/runpod/serverless";
import { createRunpodServerlessProvider } from "../../src/app/llm/runpod-serverless";
import {
  ServerlessApiError,
  ServerlessAuthError,
  ServerlessBadOutputError,
  ServerlessJobFailedError,
  ServerlessRateLimitError,
  ServerlessTimeoutError,
} from "../../src/runpod/job-api-errors";
import type { LLMStreamEvent } from "../../src/app/llm/types";

const hello = [{ role: "user" as const, content: "hello there" }];
let emu: RunningEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const provider = (e: RunningEmulator, extra: Record<string, unknown> = {}) =>
  createRunpodServerlessProvider({ endpointId: e.endpoint.id, apiKey: API_KEY, baseURL: e.serverlessUrl, retryBaseMs: 5, ...extra });
const jobs = async (e: RunningEmulator): Promise<Array<{ id: string; status: string; input: any }>> =>
  (await fetch(`${e.origin}/_emulator/jobs?endpointId=${e.endpoint.id}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as never;
const fault = (e: RunningEmulator, body: Record<string, unknown>) =>
  fetch(`${e.origin}/_emulator/job-faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const collect = async (it: AsyncIterable<LLMStreamEvent>) => {
  const out: LLMStreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};
const hang: InProcessHandler = (_job, ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));

describe("runpod_serverless provider", () => {
  it("generates: sends the worker contract (temperature 0 stays 0, max_tokens always) and reads the output", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 20 } });
    const res = await provider(emu).generate(hello, { temperature: 0 });
    // The echo worker answers with the last user message, one token per word.
    expect(res).toEqual({ content: "hello there", model: "echo", usage: { promptTokens: 2, completionTokens: 2, totalTokens: 4 } });
    const [job] = await jobs(emu);
    expect(job!.input).toEqual({ messages: hello, max_tokens: 1024, temperature: 0 });
  });

  it("streams text deltas, reports progress, and finishes with the model", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 60 } });
    const events = await collect(provider(emu).stream(hello, { maxTokens: 16 }));
    const text = events.filter((e) => e.type === "text-delta").map((e) => (e as { text: string }).text).join("");
    expect(text).toBe("hello there");
    expect(events.filter((e) => e.type === "text-delta").length).toBeGreaterThan(1);
    expect(events.some((e) => e.type === "progress")).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "finish", model: "echo", finishReason: "stop" });
    expect((await jobs(emu))[0]!.input).toMatchObject({ stream: true, max_tokens: 16 });
  });

  it("reads worker-vllm shapes: a list holding a chat.completion, token batches, OpenAI deltas, plain text", async () => {
    const completion = { id: "c", object: "chat.completion", model: "llama", choices: [{ index: 0, message: { role: "assistant", content: "from vllm" }, finish_reason: "length" }], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } };
    const handler: InProcessHandler = async (job, ctx) => {
      const kind = (job.input as { messages: Array<{ content: string }> }).messages.at(-1)!.content;
      if (kind === "list") return [completion];
      if (kind === "tokens") return [{ choices: [{ tokens: ["to", "ken", "s"] }], usage: { input: 3, output: 3 } }];
      if (kind === "deltas") {
        ctx.stream({ choices: [{ delta: { content: "del" } }] });
        ctx.stream("ta ");
        ctx.stream([{ choices: [{ delta: { content: "batch" }, finish_reason: "stop" }], model: "llama" }]);
        return ["ignored because streamed"];
      }
      return { unexpected: true };
    };
    emu = await startEmulator({ inProcess: { handler } });
    const p = provider(emu);
    expect(await p.generate([{ role: "user", content: "list" }])).toEqual({ content: "from vllm", model: "llama", usage: { promptTokens: 4, completionTokens: 2, totalTokens: 6 } });
    expect(await p.generate([{ role: "user", content: "tokens" }])).toMatchObject({ content: "tokens", usage: { promptTokens: 3, completionTokens: 3, totalTokens: 6 } });
    const events = await collect(p.stream([{ role: "user", content: "deltas" }]));
    expect(events.filter((e) => e.type === "text-delta").map((e) => (e as { text: string }).text).join("")).toBe("delta batch");
    expect(events.at(-1)).toMatchObject({ type: "finish", model: "llama", finishReason: "stop" });
    await expect(p.generate([{ role: "user", content: "other" }])).rejects.toSatisfy(ServerlessBadOutputError.isInstance);
  });

  it("generateJSON parses the model's JSON and asks for JSON", async () => {
    const inputs: unknown[] = [];
    const handler: InProcessHandler = async (job) => {
      inputs.push(job.input);
      const input = job.input as { messages: Array<{ role: string; content: string }> };
      return { response: input.messages[0]!.role === "system" ? '```json\n{"ok": true}\n```' : "prose", model: "m", finish_reason: "stop" };
    };
    emu = await startEmulator({ inProcess: { handler } });
    expect(await provider(emu).generateJSON(hello)).toEqual({ ok: true });
    // The worker's own JSON mode (structured output), not only the instruction in words.
    expect(inputs).toEqual([expect.objectContaining({ format: "json" })]);
  });

  it("retries 429 (Retry-After) and 5xx on idempotent calls, and 429 on /run, with one job in the end", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 20 } });
    await fault(emu, { op: "run", status: 429, count: 1, retryAfter: 0 });
    await fault(emu, { op: "status-sync", status: 503, count: 2 });
    await fault(emu, { op: "health", status: 429, count: 1, retryAfter: 0 });
    const progress: JobProgress[] = [];
    const client = new RunpodServerlessClient({ endpointId: emu.endpoint.id, apiKey: API_KEY, baseURL: emu.serverlessUrl, retryBaseMs: 5 });
    const job = await client.run({ messages: hello, max_tokens: 8, temperature: 0 }, { onProgress: (p) => progress.push(p) });
    expect(job.status).toBe("COMPLETED");
    expect(await jobs(emu)).toHaveLength(1);
  });

  it("never retries a POST /run whose outcome is unknown: one job, and a clear error", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 20 } });
    await fault(emu, { op: "run", status: 502, count: 3, when: "after" });
    const err = await provider(emu).generate(hello).catch((e: unknown) => e);
    expect(ServerlessApiError.isInstance(err)).toBe(true);
    expect((err as ServerlessApiError).status).toBe(502);
    expect(await jobs(emu)).toHaveLength(1);
  });

  it("gives up after the retries with a rate-limit error naming the call", async () => {
    emu = await startEmulator({ rateLimits: { health: 0 } });
    const p = provider(emu, { maxRetries: 2, maxRetryDelayMs: 100 });
    const err = (await p.health().catch((e: unknown) => e)) as Error;
    expect(ServerlessRateLimitError.isInstance(err)).toBe(true);
    expect(err.message).toContain("/health");
    expect(err.message).not.toContain(API_KEY);
  });

  it("an upstream that echoes the request's headers never gets the key into an error", async () => {
    // Issue 11: with such an upstream the key reached /api/health, the log and the audit file.
    const key = "test-only-not-a-runpod-key-echo-0123456789";
    const server = http.createServer((req, res) => res.writeHead(req.url!.endsWith("/health") ? 503 : 401).end(JSON.stringify({ seen: req.headers })));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2`;
      const client = new RunpodServerlessClient({ endpointId: "ep1", apiKey: key, baseURL, maxRetries: 1, retryBaseMs: 1 });
      for (const call of [() => client.health(), () => client.submit({ messages: hello })]) {
        const err = (await call().catch((e: unknown) => e)) as ServerlessApiError;
        expect(ServerlessApiError.isInstance(err)).toBe(true);
        expect(err.responseBody).toContain("Bearer [redacted]");
        expect(`${err.message} ${err.responseBody} ${err.stack} ${JSON.stringify(err)}`).not.toContain(key.slice(4));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses a wrong key at once with an auth error", async () => {
    emu = await startEmulator();
    const err = await provider(emu, { apiKey: "wrong-key" }).generate(hello).catch((e: unknown) => e);
    expect(ServerlessAuthError.isInstance(err)).toBe(true);
    expect((err as Error).message).toContain("RUNPOD_API_KEY");
    expect((err as Error).message).not.toContain("wrong-key");
    expect(await jobs(emu)).toHaveLength(0);
  });

  it("times out at the caller's deadline and leaves the job CANCELLED", async () => {
    emu = await startEmulator({ inProcess: { handler: hang } });
    const err = await provider(emu, { timeoutMs: 1200 }).generate(hello).catch((e: unknown) => e);
    expect(ServerlessTimeoutError.isInstance(err)).toBe(true);
    expect((err as ServerlessTimeoutError).reason).toBe("deadline");
    expect((await jobs(emu)).map((j) => j.status)).toEqual(["CANCELLED"]);
  });

  it("reports RunPod's execution timeout (TIMED_OUT) as a timeout error", async () => {
    emu = await startEmulator({ inProcess: { handler: hang } }, { executionTimeoutMs: 100 });
    const err = await provider(emu).generate(hello).catch((e: unknown) => e);
    expect(ServerlessTimeoutError.isInstance(err)).toBe(true);
    expect((err as ServerlessTimeoutError).reason).toBe("execution");
  });

  it("an abort rejects with the abort reason and cancels the job", async () => {
    emu = await startEmulator({ inProcess: { handler: hang } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("user left")), 200);
    await expect(provider(emu).generate(hello, { signal: ac.signal })).rejects.toThrow("user left");
    expect((await jobs(emu)).map((j) => j.status)).toEqual(["CANCELLED"]);
  });

  it("stopping a stream early cancels the job", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 3000 } });
    for await (const e of provider(emu).stream([{ role: "user", content: "one two three four five six" }])) {
      if (e.type === "text-delta") break;
    }
    expect((await jobs(emu)).map((j) => j.status)).toEqual(["CANCELLED"]);
  });

  it("a FAILED job throws with the worker's message", async () => {
    emu = await startEmulator({ inProcess: { handler: async () => { throw new Error("prompt too long: 9000 > max_model_len 8192"); } } });
    const err = await provider(emu).generate(hello).catch((e: unknown) => e);
    expect(ServerlessJobFailedError.isInstance(err)).toBe(true);
    expect((err as ServerlessJobFailedError).workerMessage).toBe("prompt too long: 9000 > max_model_len 8192");
  });

  it("reports a cold start, then running, and health() summarizes /health", async () => {
    emu = await startEmulator({ inProcess: { coldStartMs: 1500, latencyMs: 1200 } });
    const p = provider(emu, { progressIntervalMs: 1000 });
    expect((await p.health()).state).toBe("cold");
    const events = await collect(p.stream(hello));
    const stages = events.filter((e) => e.type === "progress").map((e) => (e as { stage: string }).stage);
    expect(stages[0]).toBe("cold-start");
    expect(stages).toContain("running");
    const progress: JobProgress[] = [];
    const client = new RunpodServerlessClient({ endpointId: emu.endpoint.id, apiKey: API_KEY, baseURL: emu.serverlessUrl, progressIntervalMs: 1000 });
    await client.run({ messages: hello, max_tokens: 4, temperature: 0 }, { onProgress: (x) => progress.push(x) });
    expect(progress.map((x) => x.stage)).toContain("running");
    expect((await p.health()).state).toBe("ready");
  });

  it("falls back to polling /status when /status-sync is not served", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 300 } });
    await fault(emu, { op: "status-sync", status: 404, count: 1 });
    expect((await provider(emu).generate(hello)).content).toBe("hello there");
  });
});
