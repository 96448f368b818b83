// The ollama and openai providers against loopback servers that speak those protocols
// and record every request body.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createProvider } from "../../src/app/llm/create-provider";
import { LLMApiError, LLMError, LLMResponseError } from "../../src/app/llm/errors";
import { ApiCallError } from "../../src/common/errors";
import { createOllamaProvider } from "../../src/app/llm/ollama";
import { createOpenAIProvider } from "../../src/app/llm/openai";
import type { LLMStreamEvent } from "../../src/app/llm/types";
import { parseWebEnv } from "../../src/app/env";

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

type Handler = (req: Recorded, res: http.ServerResponse) => void;

let servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => (s.close(r), s.closeAllConnections()))));
  servers = [];
});

async function fakeServer(handler: Handler): Promise<{ url: string; requests: Recorded[]; closedEarly: () => boolean }> {
  const requests: Recorded[] = [];
  let closedEarly = false;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const rec = { method: req.method!, url: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
      requests.push(rec);
      res.on("close", () => {
        if (!res.writableFinished) closedEarly = true;
      });
      handler(rec, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, closedEarly: () => closedEarly };
}

async function collect(stream: AsyncIterable<LLMStreamEvent>): Promise<LLMStreamEvent[]> {
  const out: LLMStreamEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

const ollamaAnswer = (content: string) => ({
  model: "llama3.1:8b",
  message: { role: "assistant", content },
  done: true,
  done_reason: "stop",
  prompt_eval_count: 7,
  eval_count: 3,
});

describe("ollama provider", () => {
  it("POSTs /api/chat with temperature 0 kept, num_predict always set, and reads usage", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify(ollamaAnswer("hello"))));
    const provider = createOllamaProvider({ baseURL: fake.url, model: "llama3.1:8b" });
    const answer = await provider.generate([{ role: "user", content: "hi" }], { temperature: 0, maxTokens: 42 });
    expect(answer).toEqual({ content: "hello", model: "llama3.1:8b", usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 } });
    expect(fake.requests[0]).toMatchObject({ method: "POST", url: "/api/chat" });
    expect(fake.requests[0]!.body).toEqual({
      model: "llama3.1:8b",
      messages: [{ role: "user", content: "hi" }],
      stream: false,
      options: { temperature: 0, num_predict: 42 },
    });

    await provider.generate([{ role: "user", content: "hi" }]);
    expect(fake.requests[1]!.body.options.num_predict).toBe(1024); // a default limit still reaches the model
  });

  it("asks for format json in generateJSON and parses the answer", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify(ollamaAnswer('{"mood":"calm"}'))));
    const provider = createOllamaProvider({ baseURL: fake.url, model: "m" });
    expect(await provider.generateJSON([{ role: "user", content: "mood?" }], { temperature: 0 })).toEqual({ mood: "calm" });
    expect(fake.requests[0]!.body.format).toBe("json");
    expect(fake.requests[0]!.body.options.temperature).toBe(0);
  });

  it("streams NDJSON chunks as text deltas and a finish with usage", async () => {
    const fake = await fakeServer((_req, res) => {
      res.setHeader("content-type", "application/x-ndjson");
      for (const word of ["Hel", "lo", " there"]) res.write(JSON.stringify({ model: "m", message: { role: "assistant", content: word }, done: false }) + "\n");
      res.end(JSON.stringify({ ...ollamaAnswer(""), model: "m" }) + "\n");
    });
    const provider = createOllamaProvider({ baseURL: fake.url, model: "m" });
    const events = await collect(provider.stream([{ role: "user", content: "hi" }], { maxTokens: 5 }));
    expect(events).toEqual([
      { type: "text-delta", text: "Hel" },
      { type: "text-delta", text: "lo" },
      { type: "text-delta", text: " there" },
      { type: "finish", model: "m", usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 }, finishReason: "stop" },
    ]);
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, options: { num_predict: 5 } });
  });

  it("cancels the HTTP request when the signal aborts mid-stream", async () => {
    const fake = await fakeServer((_req, res) => {
      res.write(JSON.stringify({ model: "m", message: { content: "first" }, done: false }) + "\n");
      // never ends on its own
    });
    const provider = createOllamaProvider({ baseURL: fake.url, model: "m" });
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of provider.stream([{ role: "user", content: "hi" }], { signal: controller.signal })) {
          if (e.type === "text-delta") seen.push(e.text);
          controller.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(seen).toEqual(["first"]);
    // The server sees its connection closed (soon; the machine may be busy).
    for (let i = 0; i < 100 && !fake.closedEarly(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(fake.closedEarly()).toBe(true);
  });

  it("retries a 503 then succeeds; does not retry a 400; wraps refused connections", async () => {
    let calls = 0;
    const fake = await fakeServer((req, res) => {
      calls++;
      if (req.body.messages[0].content === "bad") return void res.writeHead(400).end('{"error":"bad request"}');
      if (calls === 1) return void res.writeHead(503, { "retry-after": "0" }).end("busy");
      res.end(JSON.stringify(ollamaAnswer("ok")));
    });
    const provider = createOllamaProvider({ baseURL: fake.url, model: "m", retryBaseMs: 1 });
    expect((await provider.generate([{ role: "user", content: "hi" }])).content).toBe("ok");
    expect(calls).toBe(2);
    const err = await provider.generate([{ role: "user", content: "bad" }]).catch((e) => e);
    expect(LLMApiError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ status: 400, isRetryable: false, responseBody: '{"error":"bad request"}' });
    expect(calls).toBe(3);

    const refused = createOllamaProvider({ baseURL: "http://127.0.0.1:1", model: "m", maxRetries: 0 });
    const unreachable = await refused.generate([{ role: "user", content: "x" }]).catch((e) => e);
    expect(LLMApiError.isInstance(unreachable) && ApiCallError.isInstance(unreachable)).toBe(true);
    expect(unreachable).toMatchObject({ status: undefined, isRetryable: true, timedOut: false });
    expect(unreachable.message).toMatch(/^POST http:\/\/127\.0\.0\.1:1\/api\/chat failed before an answer: /);
  });

  it("health lists models via /api/tags and says whether ours is pulled", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify({ models: [{ name: "llama3.1:8b" }] })));
    expect(await createOllamaProvider({ baseURL: fake.url, model: "llama3.1:8b" }).health!()).toMatchObject({ ok: true });
    expect(await createOllamaProvider({ baseURL: fake.url, model: "other" }).health!()).toMatchObject({ ok: false, detail: "model other is not pulled" });
    expect(fake.requests.every((r) => r.url === "/api/tags" && r.method === "GET")).toBe(true);
  });
});

const completion = (content: string) => ({
  id: "c1",
  object: "chat.completion",
  model: "gpt-test",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
});

describe("upstream text in errors", () => {
  const KEY = "test-only-not-an-openai-key-echoed-0123";
  const everything = (e: Error & { responseBody?: string }) => `${e.message} ${e.responseBody ?? ""} ${e.stack} ${JSON.stringify(e)}`;

  it("an OpenAI-compatible server that echoes the key, as an error, as a non-JSON answer or mid-stream, never gets it into an error", async () => {
    const fake = await fakeServer((req, res) => {
      const echoed = JSON.stringify(req.headers);
      const what = req.body.messages[0].content;
      if (what === "error") return void res.writeHead(401).end(echoed);
      if (what === "not-json") return void res.end(`<html>${echoed}</html>`);
      res.setHeader("content-type", "text/event-stream");
      res.end(`data: ${JSON.stringify({ error: { message: `bad key ${req.headers.authorization}` } })}\n\n`);
    });
    const provider = createOpenAIProvider({ baseURL: fake.url, apiKey: KEY, model: "m", maxRetries: 0 });
    const failures = [
      await provider.generate([{ role: "user", content: "error" }]).catch((e) => e),
      await provider.generate([{ role: "user", content: "not-json" }]).catch((e) => e),
      await collect(provider.stream([{ role: "user", content: "stream" }])).catch((e) => e),
    ];
    expect(failures.map((e) => [LLMApiError.isInstance(e), LLMResponseError.isInstance(e), LLMError.isInstance(e)])).toEqual([
      [true, false, false],
      [false, true, true],
      [false, false, true],
    ]);
    for (const failure of failures) expect(everything(failure)).not.toContain("not-an-openai-key-echoed");
  });

  it("an Ollama line that is not JSON is named without quoting the raw text", async () => {
    const fake = await fakeServer((req, res) => res.end(`{"oops": "Bearer ${KEY}"\n`));
    const error = await collect(createOllamaProvider({ baseURL: fake.url, model: "m" }).stream([{ role: "user", content: "x" }])).catch((e) => e);
    expect(LLMResponseError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/^a streamed line is not JSON: /);
    expect(everything(error)).not.toContain("not-an-openai-key-echoed");
  });
});

describe("openai provider", () => {
  it("POSTs /chat/completions with the key, temperature 0, max_tokens and json response_format", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify(completion('{"a":1}'))));
    const provider = createOpenAIProvider({ baseURL: `${fake.url}/v1`, apiKey: "sk-test", model: "gpt-test" });
    expect(await provider.generateJSON([{ role: "system", content: "s" }, { role: "user", content: "u" }], { temperature: 0, maxTokens: 9 })).toEqual({ a: 1 });
    const req = fake.requests[0]!;
    expect(req.url).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe("Bearer sk-test");
    expect(req.body).toEqual({
      model: "gpt-test",
      messages: [{ role: "system", content: "s" }, { role: "user", content: "u" }],
      temperature: 0,
      max_tokens: 9,
      response_format: { type: "json_object" },
    });
  });

  it("generate maps content, model and usage; a default max_tokens is always sent", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify(completion("hi!"))));
    const provider = createOpenAIProvider({ baseURL: fake.url, model: "gpt-test" });
    expect(await provider.generate([{ role: "user", content: "u" }])).toEqual({ content: "hi!", model: "gpt-test", usage: { promptTokens: 4, completionTokens: 2, totalTokens: 6 } });
    expect(fake.requests[0]!.body.max_tokens).toBe(1024);
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("streams SSE chunks (split across writes) into deltas and a finish with usage", async () => {
    const fake = await fakeServer((_req, res) => {
      res.setHeader("content-type", "text/event-stream");
      const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ model: "gpt-test", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const whole = chunk({ role: "assistant" }) + ": comment\n\n" + chunk({ content: "Hel" }) + chunk({ content: "lo" }) + chunk({}, "length") +
        `data: ${JSON.stringify({ model: "gpt-test", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n` + "data: [DONE]\n\n";
      // Split in the middle of lines to exercise the line framing.
      for (let i = 0; i < whole.length; i += 17) res.write(whole.slice(i, i + 17));
      res.end();
    });
    const provider = createOpenAIProvider({ baseURL: fake.url, model: "gpt-test" });
    const events = await collect(provider.stream([{ role: "user", content: "u" }], { temperature: 0, maxTokens: 2 }));
    expect(events).toEqual([
      { type: "text-delta", text: "Hel" },
      { type: "text-delta", text: "lo" },
      { type: "finish", model: "gpt-test", usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 }, finishReason: "length" },
    ]);
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, temperature: 0, max_tokens: 2, stream_options: { include_usage: true } });
  });

  it("surfaces an error event inside the stream and a truncated stream", async () => {
    const fake = await fakeServer((req, res) => {
      if (req.body.messages[0].content === "err") return void res.end(`data: ${JSON.stringify({ error: { message: "model overloaded" } })}\n\n`);
      res.end(`data: ${JSON.stringify({ choices: [{ delta: { content: "x" } }] })}\n\n`);
    });
    const provider = createOpenAIProvider({ baseURL: fake.url, model: "m" });
    await expect(collect(provider.stream([{ role: "user", content: "err" }]))).rejects.toThrow(/model overloaded/);
    await expect(collect(provider.stream([{ role: "user", content: "cut" }]))).rejects.toThrow(/without \[DONE\]/);
  });
});

describe("provider factory", () => {
  it("builds the provider LLM_PROVIDER names, with the env's base URLs", async () => {
    const fake = await fakeServer((_req, res) => res.end(JSON.stringify(ollamaAnswer("from ollama"))));
    const base = { METAHUMAN_ROOT: "/tmp", SESSION_SECRET: "x".repeat(32) };
    const ollama = createProvider(parseWebEnv({ ...base, LLM_PROVIDER: "ollama", LLM_MODEL: "m", OLLAMA_URL: fake.url }));
    expect(ollama.name).toBe("ollama");
    expect((await ollama.generate([{ role: "user", content: "hi" }])).content).toBe("from ollama");
    expect(createProvider(parseWebEnv({ ...base, LLM_PROVIDER: "mock" })).name).toBe("mock");
    expect(createProvider(parseWebEnv({ ...base, LLM_PROVIDER: "openai", LLM_MODEL: "m", OPENAI_BASE_URL: fake.url })).name).toBe("openai");
    const runpod = createProvider(parseWebEnv({ ...base, LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: "k", RUNPOD_ENDPOINT_ID: "ep1" }));
    expect(runpod.name).toBe("runpod_serverless");
    expect(typeof runpod.health).toBe("function");
  });
});
