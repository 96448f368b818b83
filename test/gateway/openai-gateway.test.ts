// The pod's gateway (src/app/gateway) as MetaHuman OS and any OpenAI client see it: a real Fastify on loopback in
// front of the emulator's job API, driven by the official `openai` npm client. The first part runs real RunPod SDK
// workers (handler/handler.py, ENGINE=echo); the second uses in-process handlers where a test needs a job that
// hangs, fails or is answered wrongly on cue, and an injected clock for the stop's grace.
import Fastify, { type FastifyInstance } from "fastify";
import OpenAI, { APIError, AuthenticationError, BadRequestError, InternalServerError, NotFoundError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayRoutes, type GatewayOptions } from "../../src/app/gateway/openai-routes";
import { InFlightCalls } from "../../src/app/gateway/in-flight";
import { createRunpodServerlessProvider } from "../../src/app/llm/runpod-serverless";
import { echoHandler, type InProcessHandler } from "../../src/emulator/job-executor-in-process";
import { waitFor } from "../app/server-child";
import { API_KEY, listJobs, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

const MODEL = "echo/gateway-test";
const TOKEN = "gateway-test-token-0123456789";

interface Job { id: string; status: string; input: Record<string, unknown> }

interface RunningGateway {
  app: FastifyInstance;
  url: string;
  inFlight: InFlightCalls;
  calls: Array<{ outcome: string }>;
}

async function startGatewayFor(emu: RunningEmulator, options: Partial<GatewayOptions> = {}): Promise<RunningGateway> {
  const calls: Array<{ outcome: string }> = [];
  const inFlight = options.inFlight ?? new InFlightCalls();
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(gatewayRoutes, {
    provider: createRunpodServerlessProvider({ endpointId: emu.endpoint.id, apiKey: API_KEY, baseURL: emu.serverlessUrl, progressIntervalMs: 1000 }),
    model: MODEL,
    token: TOKEN,
    inFlight,
    maxTokens: 256,
    timeoutMs: 60_000,
    onCall: (call) => calls.push(call),
    ...options,
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, url: `${address}/v1`, inFlight, calls };
}

const client = (gateway: RunningGateway, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0, ...extra });

const jobsSince = async (emu: RunningEmulator, before: number) => (await listJobs<Job>(emu)).slice(before);

describe("the gateway with real SDK workers, through the openai client", () => {
  let emu: RunningEmulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    emu = await startEmulator(
      { executor: "workers", workerPollWaitMs: 1000, workers: { idleTimeoutMs: 20_000, env: { ECHO_TOKEN_DELAY_MS: "40", STREAM_BATCH_TOKENS: "1" } } },
      { workersMax: 1 },
    );
    gateway = await startGatewayFor(emu);
  }, 60_000);
  afterAll(async () => {
    await gateway?.app.close();
    await emu?.close();
  });

  it("lists the one model it serves", async () => {
    const models = [];
    for await (const model of client(gateway).models.list()) models.push(model.id);
    expect(models).toEqual([MODEL]);
  });

  it("answers a chat completion with the echo worker's text and the job's usage, from one job", async () => {
    const before = (await listJobs<Job>(emu)).length;
    const completion = await client(gateway).chat.completions.create({
      model: MODEL,
      messages: [{ role: "system", content: "be brief" }, { role: "user", content: "the lighthouse at dusk" }],
      max_tokens: 50,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe(MODEL);
    expect(completion.choices[0]!.message).toMatchObject({ role: "assistant", content: "the lighthouse at dusk" });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    // The echo engine counts words: 6 in the prompt, 4 in the answer.
    expect(completion.usage).toEqual({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
    const jobs = await jobsSince(emu, before);
    expect(jobs.map((j) => j.status)).toEqual(["COMPLETED"]);
    expect(jobs[0]!.input).toMatchObject({ max_tokens: 50, stream: true });
  }, 60_000);

  it("streams the answer in pieces, then the finish and the usage", async () => {
    const stream = await client(gateway).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "one two three four five" }],
      stream: true,
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe("one two three four five");
    expect(finish).toBe("stop");
    expect(usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
  }, 60_000);

  it("passes JSON mode to the worker as format json, and the answer is JSON", async () => {
    const before = (await listJobs<Job>(emu)).length;
    const completion = await client(gateway).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "plan my day" }],
      response_format: { type: "json_object" },
      max_tokens: 40,
    });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ echo: "plan my day" });
    const [job] = await jobsSince(emu, before);
    expect(job!.input.format).toBe("json");
  }, 60_000);

  it("keeps temperature 0 as 0 (and sends the default only when none is given)", async () => {
    const before = (await listJobs<Job>(emu)).length;
    await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "cold" }], temperature: 0 });
    await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "warm" }], temperature: 1.3 });
    const jobs = await jobsSince(emu, before);
    expect(jobs.map((j) => j.input.temperature)).toEqual([0, 1.3]);
  }, 60_000);

  it("answers another model with 404 in OpenAI's error shape, and submits no job", async () => {
    const before = (await listJobs<Job>(emu)).length;
    const error = await client(gateway).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).status).toBe(404);
    expect((error as NotFoundError).code).toBe("model_not_found");
    expect((error as NotFoundError).param).toBe("model");
    expect((error as NotFoundError).message).toContain(MODEL);
    const raw = await fetch(`${gateway.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(raw.status).toBe(404);
    const body = (await raw.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "model", code: "model_not_found" });
    expect(typeof body.error.message).toBe("string");
    expect(await jobsSince(emu, before)).toEqual([]);
  });

  it("refuses a missing or wrong bearer token with 401", async () => {
    const wrong = await new OpenAI({ baseURL: gateway.url, apiKey: "not-the-token", maxRetries: 0 }).models.list().catch((e) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect((wrong as AuthenticationError).code).toBe("invalid_api_key");
    const prefix = await new OpenAI({ baseURL: gateway.url, apiKey: TOKEN.slice(0, -1), maxRetries: 0 })
      .chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(prefix).toBeInstanceOf(AuthenticationError);
    for (const headers of [{}, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }] as Array<Record<string, string>>) {
      const response = await fetch(`${gateway.url}/models`, { headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    }
  });

  it("refuses max_tokens over GATEWAY_MAX_TOKENS with 400 naming max_tokens, and submits no job", async () => {
    const before = (await listJobs<Job>(emu)).length;
    for (const limit of [{ max_tokens: 257 }, { max_completion_tokens: 100_000 }]) {
      const error = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], ...limit }).catch((e) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).param).toBe("max_tokens");
      expect((error as BadRequestError).message).toMatch(/max_tokens.*256/);
    }
    // At the bound it runs.
    const ok = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "at the bound" }], max_tokens: 256 });
    expect(ok.choices[0]!.message.content).toBe("at the bound");
    expect(await jobsSince(emu, before)).toHaveLength(1);
  }, 60_000);

  it("refuses a bad body with 400 naming the field", async () => {
    const cases: Array<[unknown, string]> = [
      [{ model: MODEL, messages: [] }, "messages"],
      [{ model: MODEL, messages: [{ role: "robot", content: "hi" }] }, "messages.0.role"],
      [{ model: MODEL, messages: [{ role: "user", content: 42 }] }, "messages.0.content"],
      [{ model: MODEL, messages: [{ role: "user", content: "hi" }], temperature: 3 }, "temperature"],
      [{ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 0 }, "max_tokens"],
      [{ model: MODEL, messages: [{ role: "user", content: "hi" }], response_format: { type: "yaml" } }, "response_format.type"],
      [{ messages: [{ role: "user", content: "hi" }] }, "model"],
    ];
    for (const [body, field] of cases) {
      const error = await client(gateway).chat.completions.create(body as never).catch((e) => e);
      expect(error, field).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).param, field).toBe(field);
      expect((error as BadRequestError).message, field).toContain(field);
    }
    const notJson = await fetch(`${gateway.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
  });

  it("cancels the RunPod job when the client aborts a streamed call", async () => {
    const before = (await listJobs<Job>(emu)).length;
    const controller = new AbortController();
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const stream = await client(gateway).chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: words }], stream: true, max_tokens: 250 },
      { signal: controller.signal },
    );
    const pieces: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) pieces.push(chunk.choices[0].delta.content);
        if (pieces.length === 3) controller.abort();
      }
    })();
    // The openai client ends an aborted stream quietly, before the answer was whole.
    await reading;
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    expect(pieces.length).toBeLessThan(200);
    await waitFor(async () => (await jobsSince(emu, before)).some((j) => j.status === "CANCELLED"), "the job CANCELLED", 30_000);
    const jobs = await jobsSince(emu, before);
    expect(jobs.map((j) => j.status)).toEqual(["CANCELLED"]);
    await waitFor(() => gateway.inFlight.size === 0, "the call to end", 10_000);
    expect(gateway.calls.at(-1)?.outcome).toBe("aborted");
  }, 60_000);
});

describe("the gateway's deadline, stop and retries (in-process handlers)", () => {
  let emu: RunningEmulator;
  /** Jobs whose last message says "hang" run until cancelled; "fail" fails the job; the rest echo. */
  const handler: InProcessHandler = async (job, ctx) => {
    const messages = (job.input as { messages?: Array<{ content: string }> }).messages ?? [];
    const text = messages.at(-1)?.content ?? "";
    if (text.startsWith("hang")) {
      ctx.stream([{ choices: [{ tokens: ["started"] }], usage: { input: 1, output: 1 } }]);
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
    }
    if (text.startsWith("fail")) return { error: "the worker failed on cue" };
    return echoHandler()(job, ctx);
  };

  beforeAll(async () => {
    emu = await startEmulator({ executor: "in-process", inProcess: { handler } }, { workersMax: 4 });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("cancels the job at the deadline and answers an error", async () => {
    const gateway = await startGatewayFor(emu, { timeoutMs: 300 });
    try {
      const before = (await listJobs<Job>(emu)).length;
      const error = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hang until the deadline" }] }).catch((e) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).message).toMatch(/GATEWAY_TIMEOUT_MS/);
      await waitFor(async () => (await jobsSince(emu, before)).every((j) => j.status === "CANCELLED"), "the job CANCELLED", 10_000);
      expect((await jobsSince(emu, before)).map((j) => j.status)).toEqual(["CANCELLED"]);
      // A streamed call that already had its first words ends with an error event, not a clean finish.
      const before2 = (await listJobs<Job>(emu)).length;
      const stream = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hang streamed" }], stream: true });
      const pieces: string[] = [];
      const streamed = await (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces.push(chunk.choices[0].delta.content);
      })().catch((e) => e);
      expect(pieces).toEqual(["started"]);
      expect(streamed).toBeInstanceOf(APIError);
      expect(String((streamed as APIError).message)).toMatch(/GATEWAY_TIMEOUT_MS/);
      await waitFor(async () => (await jobsSince(emu, before2)).every((j) => j.status === "CANCELLED"), "the streamed job CANCELLED", 10_000);
      expect(gateway.calls.map((c) => c.outcome)).toEqual(["aborted", "aborted"]);
    } finally {
      await gateway.app.close();
    }
  });

  it("on a stop, aborts the calls in flight (jobs CANCELLED) and refuses new ones with 499 until the stopped chat ends and the grace passes", async () => {
    let now = 1_000_000;
    const inFlight = new InFlightCalls(2_000, () => now);
    const gateway = await startGatewayFor(emu, { inFlight });
    try {
      const before = (await listJobs<Job>(emu)).length;
      const chatEnded = inFlight.chatOpened();
      const running = [
        client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hang one" }] }).catch((e) => e),
        client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hang two" }] }).catch((e) => e),
      ];
      await waitFor(async () => inFlight.size === 2 && (await jobsSince(emu, before)).filter((j) => j.status === "IN_PROGRESS").length === 2, "two running jobs", 10_000);
      expect(inFlight.stop("the person stopped the chat")).toBe(2);
      for (const error of await Promise.all(running)) {
        expect(error).toBeInstanceOf(APIError);
        expect((error as APIError).status).toBe(499);
        expect((error as APIError).message).toMatch(/stopped the chat/);
      }
      await waitFor(async () => (await jobsSince(emu, before)).every((j) => j.status === "CANCELLED"), "both jobs CANCELLED", 10_000);
      expect((await jobsSince(emu, before)).map((j) => j.status)).toEqual(["CANCELLED", "CANCELLED"]);

      const refusedCall = async () => {
        const error = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "after the stop" }] }).catch((e) => e);
        expect(error).toBeInstanceOf(APIError);
        expect((error as APIError).status).toBe(499);
        expect((error as APIError).code).toBe("chat_stopped");
      };
      // The stopped chat is still open: refused however long it takes.
      now += 60_000;
      await refusedCall();
      chatEnded();
      // Ended, but within the grace: still refused.
      now += 1_999;
      await refusedCall();
      expect(await jobsSince(emu, before)).toHaveLength(2);
      // The grace has passed: calls run again.
      now += 2;
      const ok = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "after the grace" }] });
      expect(ok.choices[0]!.message.content).toBe("after the grace");
      expect(await jobsSince(emu, before)).toHaveLength(3);
    } finally {
      await gateway.app.close();
    }
  });

  it("does not let the openai client's retries make a second job when a job failed", async () => {
    const gateway = await startGatewayFor(emu);
    try {
      const before = (await listJobs<Job>(emu)).length;
      const error = await client(gateway, { maxRetries: 2 }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "fail please" }] }).catch((e) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBeGreaterThanOrEqual(500);
      // 5xx details never reach the client.
      expect((error as APIError).message).not.toContain("failed on cue");
      const jobs = await jobsSince(emu, before);
      expect(jobs.map((j) => j.status)).toEqual(["FAILED"]);
    } finally {
      await gateway.app.close();
    }
  });

  it("does not let the openai client's retries make a second job when RunPod took the job but its answer failed", async () => {
    const gateway = await startGatewayFor(emu);
    try {
      const before = (await listJobs<Job>(emu)).length;
      // POST /run creates the job, then answers 500: the job client cannot know the job exists, so must not resubmit.
      await fetch(`${emu.origin}/_emulator/job-faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "run", status: 500, when: "after" }) });
      const error = await client(gateway, { maxRetries: 2 }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "taken once" }] }).catch((e) => e);
      expect(error).toBeInstanceOf(InternalServerError);
      expect(await jobsSince(emu, before)).toHaveLength(1);
    } finally {
      await fetch(`${emu.origin}/_emulator/job-faults`, { method: "DELETE" });
      await gateway.app.close();
    }
  });

  it("retries what RunPod certainly did not take, inside one call: one job, one answer", async () => {
    const gateway = await startGatewayFor(emu);
    try {
      const before = (await listJobs<Job>(emu)).length;
      await fetch(`${emu.origin}/_emulator/job-faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ op: "run", status: 429, retryAfter: 0, when: "before" }) });
      const ok = await client(gateway).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "second try" }] });
      expect(ok.choices[0]!.message.content).toBe("second try");
      expect((await jobsSince(emu, before)).map((j) => j.status)).toEqual(["COMPLETED"]);
    } finally {
      await fetch(`${emu.origin}/_emulator/job-faults`, { method: "DELETE" });
      await gateway.app.close();
    }
  });
});
