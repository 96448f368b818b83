// RunPod's OpenAI-compatible route in the emulator (src/emulator/openai-route.ts): our own OpenAI
// provider talks to /v2/{endpointId}/openai/v1 and real SDK worker processes (handler/handler.py,
// ENGINE=echo) answer the `{openai_route, openai_input}` jobs. A second part uses in-process
// handlers for what the echo worker cannot do on cue: failing mid-stream, outliving a wait, the 60 s cut.
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import type { WorkerManager } from "../../src/emulator/worker-manager";
import { jobSystemPlugin } from "../../src/emulator/job-system";
import { openaiRoutePlugin } from "../../src/emulator/openai-route";
import type { InProcessHandler } from "../../src/emulator/job-executor-in-process";
import type { JobEndpoint } from "../../src/emulator/job-store";
import { createOpenAIProvider } from "../../src/app/llm/openai";
import type { LLMStreamEvent } from "../../src/app/llm/types";
import { sleep } from "../../src/common/http";


interface JobView {
  id: string;
  status: string;
  input: { openai_route?: string; openai_input?: { stream?: boolean; messages?: Array<{ content: string }> } };
  workerId?: string;
}

async function jobsOf(origin: string, endpointId: string): Promise<JobView[]> {
  const res = await fetch(`${origin}/_emulator/jobs?endpointId=${endpointId}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return (await res.json()) as JobView[];
}

async function waitForJob(origin: string, endpointId: string, match: (j: JobView) => boolean): Promise<JobView | undefined> {
  for (let i = 0; i < 200; i++) {
    const job = (await jobsOf(origin, endpointId)).find(match);
    if (job) return job;
    await sleep(50);
  }
  return undefined;
}

describe("OpenAI route with real SDK workers", () => {
  let emu: RunningEmulator;
  let manager: WorkerManager;
  const baseURL = (): string => `${emu.serverlessUrl}/${emu.endpoint.id}/openai/v1`;
  const provider = () => createOpenAIProvider({ baseURL: baseURL(), apiKey: API_KEY, model: "echo", maxRetries: 0 });

  beforeAll(async () => {
    emu = await startEmulator(
      { executor: "workers", workerPollWaitMs: 2000, workers: { env: { ECHO_TOKEN_DELAY_MS: "40", STREAM_BATCH_TOKENS: "1" } } },
      { workersMax: 1 },
    );
    manager = emu.app.jobSystem.executor as WorkerManager;
  });
  afterAll(async () => {
    await emu.close();
    expect(manager.processCount()).toBe(0);
  });

  it("generate: a chat.completion with the echo of the last user message and usage, through a counted job", async () => {
    const res = await provider().generate(
      [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello openai route" },
      ],
      { maxTokens: 32, temperature: 0 },
    );
    expect(res.content).toBe("hello openai route");
    expect(res.model).toBe("echo");
    // The echo engine counts words: 2 + 3 prompt, 3 completion.
    expect(res.usage).toEqual({ promptTokens: 5, completionTokens: 3, totalTokens: 8 });
    const jobs = await jobsOf(emu.origin, emu.endpoint.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: "COMPLETED", input: { openai_route: "/v1/chat/completions", openai_input: { max_tokens: 32, temperature: 0 } } });
    const health = await call(emu, "GET", "/health");
    expect(health.body.jobs.completed).toBe(1);
  });

  it("the raw answer is the OpenAI object itself, not the job's one-element list", async () => {
    const res = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "one two three four" }], max_tokens: 2 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = await res.json();
    expect(Array.isArray(body)).toBe(false);
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "echo",
      choices: [{ index: 0, message: { role: "assistant", content: "one two" }, finish_reason: "length" }],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
    });
  });

  it("stream: several SSE deltas that add up to the echo, usage and [DONE]", async () => {
    const events: LLMStreamEvent[] = [];
    for await (const e of provider().stream([{ role: "user", content: "streamed over the openai route" }], { maxTokens: 32 })) events.push(e);
    const deltas = events.filter((e) => e.type === "text-delta").map((e) => (e as { text: string }).text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("streamed over the openai route");
    // The provider asks for stream_options.include_usage: the handler's usage-only chunk reaches it.
    expect(events.at(-1)).toEqual({ type: "finish", model: "echo", finishReason: "stop", usage: { promptTokens: 5, completionTokens: 5, totalTokens: 10 } });
    const job = (await jobsOf(emu.origin, emu.endpoint.id)).find((j) => j.input.openai_input?.stream === true);
    expect(job?.status).toBe("COMPLETED");
  });

  it("the SSE wire format: text/event-stream, one data line per chunk, [DONE] last", async () => {
    const res = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "a b c" }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    const events = text.split("\n\n").filter((e) => e !== "");
    expect(events.every((e) => e.startsWith("data: "))).toBe(true);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)));
    expect(chunks.length).toBe(3);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "a" });
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
  });

  it("/models lists the worker's model", async () => {
    const health = await provider().health?.();
    expect(health).toMatchObject({ ok: true, backend: { models: ["echo"] } });
    const res = await fetch(`${baseURL()}/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(await res.json()).toMatchObject({ object: "list", data: [{ id: "echo", object: "model" }] });
    const jobs = await jobsOf(emu.origin, emu.endpoint.id);
    expect(jobs.filter((j) => j.input.openai_route === "/v1/models").map((j) => j.status)).toEqual(["COMPLETED", "COMPLETED"]);
  });

  it("a bad request field is a 400 OpenAI error naming the field (the handler's message), as JSON, also when streaming", async () => {
    for (const stream of [false, true]) {
      const res = await fetch(`${baseURL()}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: "lots", stream }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = await res.json();
      expect(body.error).toMatchObject({ type: "invalid_request_error", param: "max_tokens" });
      expect(body.error.message).toContain("input.openai_input.max_tokens: 'lots' is not allowed");
    }
    // The platform counts them as failed jobs.
    expect((await call(emu, "GET", "/health")).body.jobs.failed).toBe(2);
  });

  it("aborting the stream cancels the job, and the cancel reaches the worker", async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const abort = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of provider().stream([{ role: "user", content: words }], { maxTokens: 500, signal: abort.signal })) {
          if (e.type !== "text-delta") continue;
          seen.push(e.text);
          if (seen.length === 2) abort.abort();
        }
      })(),
    ).rejects.toThrow(/abort/i);
    expect(seen).toEqual(["w0", " w1"]);
    const job = await waitForJob(emu.origin, emu.endpoint.id, (j) => j.input.openai_input?.messages?.[0]?.content === words && j.status === "CANCELLED");
    expect(job?.status).toBe("CANCELLED");
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      stopped = manager.outputOf(job!.workerId!).some((l) => l.includes("Job stopped") && l.includes(job!.id));
      if (!stopped) await sleep(50);
    }
    expect(stopped).toBe(true);
    // The worker is free again: the next request completes.
    expect((await provider().generate([{ role: "user", content: "after the abort" }])).content).toBe("after the abort");
  });

  it("a model the worker does not serve answers 404 in vLLM's shape, as vLLM's own server does (issue 17)", async () => {
    const res = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string; type: string; param: string; code: number } };
    expect(body.error).toMatchObject({ type: "NotFoundError", param: "model", code: 404 });
    expect(body.error.message).toMatch(/^The model `no-such-model` does not exist\. This endpoint's worker serves '[^']+'/);
    // A streamed request is answered the same way (the job fails before any chunk).
    const streamed = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "no-such-model", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    expect(streamed.status).toBe(404);
    expect(((await streamed.json()) as { error: { type: string } }).error.type).toBe("NotFoundError");
  });

  it("auth and endpoint as the job API: a wrong key is 401, an unknown endpoint 404, both OpenAI-shaped; no job is made", async () => {
    const before = (await jobsOf(emu.origin, emu.endpoint.id)).length;
    const wrongKey = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer not-the-key", "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    expect(wrongKey.status).toBe(401);
    expect((await wrongKey.json()).error).toMatchObject({ type: "authentication_error" });
    const unknown = await fetch(`${emu.serverlessUrl}/no-such-endpoint/openai/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.message).toContain('"no-such-endpoint"');
    const notObject = await fetch(`${baseURL()}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [], stream: "yes" }),
    });
    expect(notObject.status).toBe(400);
    expect((await notObject.json()).error).toMatchObject({ type: "invalid_request_error", param: "stream" });
    expect((await jobsOf(emu.origin, emu.endpoint.id)).length).toBe(before);
  });
});

/** An app with the job system (in-process handler) and the route alone, to set the route's own options. */
async function routeApp(handler: InProcessHandler, route: { waitMs?: number; streamCutMs?: number }): Promise<{ app: FastifyInstance; baseURL: string; origin: string }> {
  const ep: JobEndpoint = { id: "ep-openai", workersMax: 1, workersMin: 0, idleTimeout: 5, executionTimeoutMs: 60_000 };
  const endpoints = (id: string) => (id === ep.id ? ep : undefined);
  const app = Fastify();
  await app.register(jobSystemPlugin, { apiKey: API_KEY, endpoints, inProcess: { handler } });
  await app.register(openaiRoutePlugin, { apiKey: API_KEY, endpoints, ...route });
  // /_emulator/jobs comes with the job system.
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  return { app, origin, baseURL: `${origin}/v2/${ep.id}/openai/v1` };
}

async function closeApp(app: FastifyInstance): Promise<void> {
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
}

const chunk = (content: string, finish: string | null = null) => ({
  id: "chatcmpl-x",
  object: "chat.completion.chunk",
  created: 0,
  model: "fake",
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

describe("OpenAI route options and failures (in-process handlers)", () => {
  it("a job that fails mid-stream sends an OpenAI error event: the provider throws with the worker's message", async () => {
    const { app, baseURL } = await routeApp(async (_job, ctx) => {
      ctx.stream(chunk("partial"));
      throw new Error("CUDA error: device-side assert triggered");
    }, {});
    try {
      const provider = createOpenAIProvider({ baseURL, apiKey: API_KEY, model: "fake", maxRetries: 0 });
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const e of provider.stream([{ role: "user", content: "x" }])) if (e.type === "text-delta") seen.push(e.text);
        })(),
      ).rejects.toThrow(/job_failed|failed: Error: CUDA error: device-side assert triggered/);
      expect(seen).toEqual(["partial"]);
    } finally {
      await closeApp(app);
    }
  });

  it("a worker failure before any output is a 500 without the traceback; a wait past waitMs is a 504 and cancels the job", async () => {
    const { app, baseURL, origin } = await routeApp(async (job, ctx) => {
      const input = job.input as { openai_input: { messages: Array<{ content: string }> } };
      if (input.openai_input.messages[0]!.content === "fail") {
        throw Object.assign(new Error("engine exploded"), { name: "RuntimeError" });
      }
      await sleep(30_000, ctx.signal);
      return [];
    }, { waitMs: 300 });
    try {
      const post = (content: string) =>
        fetch(`${baseURL}/chat/completions`, {
          method: "POST",
          headers: { authorization: API_KEY, "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content }] }),
        });
      const failed = await post("fail");
      expect(failed.status).toBe(500);
      const body = await failed.json();
      expect(body.error).toMatchObject({ type: "server_error", code: "job_failed" });
      expect(body.error.message).toContain("RuntimeError: engine exploded");
      expect(body.error.message).not.toContain("traceback");
      const slow = await post("slow");
      expect(slow.status).toBe(504);
      expect((await slow.json()).error.code).toBe("job_wait_exceeded");
      const jobs = (await (await fetch(`${origin}/_emulator/jobs`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as JobView[];
      expect(jobs.map((j) => j.status)).toEqual(["FAILED", "CANCELLED"]);
    } finally {
      await closeApp(app);
    }
  });

  it("streamCutMs emulates RunPod's stream cut: the connection drops without [DONE] and the job runs on", async () => {
    const { app, baseURL, origin } = await routeApp(async (_job, ctx) => {
      for (let i = 0; i < 40; i++) {
        ctx.stream(chunk(`t${i} `));
        await sleep(50, ctx.signal);
      }
      return [];
    }, { streamCutMs: 300 });
    try {
      const provider = createOpenAIProvider({ baseURL, apiKey: API_KEY, model: "fake", maxRetries: 0 });
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const e of provider.stream([{ role: "user", content: "x" }])) if (e.type === "text-delta") seen.push(e.text);
        })(),
      ).rejects.toThrow();
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.length).toBeLessThan(40);
      const [job] = (await (await fetch(`${origin}/_emulator/jobs`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as JobView[];
      expect(job!.status).toBe("IN_PROGRESS");
      const done = await waitForJob(origin, "ep-openai", (j) => j.status !== "IN_PROGRESS");
      expect(done?.status).toBe("COMPLETED");
    } finally {
      await closeApp(app);
    }
  });
});
