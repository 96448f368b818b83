// MetaHuman OS's own RunPod client (packages/server/src/providers/runpod.ts in Greg-Aster/metahuman-os)
// against real RunPod SDK workers (handler/handler.py, ENGINE=echo) behind the emulator. Its request body
// and its reading of the output are re-expressed below from what that client does (not its code):
// - POST {base}/{endpointId}/runsync with {input: {messages, temperature (default 0.7), max_tokens
//   (default 512), model? (its model router always sets one), format?: "json" (generateJSON)}};
// - FAILED or CANCELLED: an error with the job's `error`; IN_QUEUE/IN_PROGRESS: poll /status every second;
// - output a list: the first element's choices[0].tokens (joined), else .text, else .message.content,
//   usage from usage.input/output (or prompt_tokens/completion_tokens); output an object: response,
//   content or message.content; no text is an error; generateJSON is JSON.parse of the text.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

const requireVenv = () => {
  if (!existsSync(".venv/bin/python")) throw new Error(".venv/bin/python is missing: run `bash scripts/setup-python.sh` first (these tests run real RunPod SDK workers from it)");
};

interface Options {
  model?: string;
  temperature?: number;
  maxTokens?: number;
  format?: "text" | "json";
}
type Usage = { promptTokens: number; completionTokens: number; totalTokens: number };

/** Reads a COMPLETED job's output the way MetaHuman OS's client does. */
function readLikeMetahuman(output: any): { content?: string; usage?: Usage } {
  if (Array.isArray(output)) {
    const first = output[0];
    const choice = first?.choices?.[0];
    const tokens = choice?.tokens;
    const content = tokens ? (Array.isArray(tokens) ? tokens.join("") : tokens) : (choice?.text ?? choice?.message?.content);
    const u = first?.usage;
    const usage = u
      ? {
          promptTokens: u.input || u.prompt_tokens || 0,
          completionTokens: u.output || u.completion_tokens || 0,
          totalTokens: (u.input || u.prompt_tokens || 0) + (u.output || u.completion_tokens || 0),
        }
      : undefined;
    return { content, usage };
  }
  const content = output?.response || output?.content || output?.message?.content;
  const u = output?.usage;
  return { content, usage: u ? { promptTokens: u.prompt_tokens || 0, completionTokens: u.completion_tokens || 0, totalTokens: u.total_tokens || 0 } : undefined };
}

async function metahumanGenerate(emu: RunningEmulator, messages: Array<{ role: string; content: string }>, options: Options = {}) {
  const input: Record<string, unknown> = {
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: options.temperature ?? 0.7,
    max_tokens: options.maxTokens ?? 512,
  };
  if (options.model) input.model = options.model;
  if (options.format === "json") input.format = "json";
  const headers = { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" };
  const base = `${emu.serverlessUrl}/${emu.endpoint.id}`;
  const res = await fetch(`${base}/runsync`, { method: "POST", headers, body: JSON.stringify({ input }) });
  if (!res.ok) throw new Error(`HTTP error (${res.status}): ${await res.text()}`);
  let result = (await res.json()) as { id: string; status: string; output?: unknown; error?: string };
  const started = Date.now();
  while (result.status === "IN_QUEUE" || result.status === "IN_PROGRESS") {
    if (Date.now() - started > 120_000) throw new Error("Polling timeout");
    await new Promise((r) => setTimeout(r, 1000));
    result = await (await fetch(`${base}/status/${result.id}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).json();
  }
  if (result.status === "FAILED" || result.status === "CANCELLED") throw new Error(result.error || "Job failed");
  if (result.status === "TIMED_OUT") throw new Error("GPU request timed out");
  if (!result.output) throw new Error("No output in response");
  const { content, usage } = readLikeMetahuman(result.output);
  if (!content) throw new Error(`No content in response output: ${JSON.stringify(result.output).slice(0, 300)}`);
  return { content, model: options.model || "runpod-serverless", usage };
}

async function metahumanGenerateJSON(emu: RunningEmulator, messages: Array<{ role: string; content: string }>, options: Options = {}) {
  const response = await metahumanGenerate(emu, messages, { ...options, format: "json" });
  return JSON.parse(response.content) as unknown;
}

describe("MetaHuman OS's RunPod client against real SDK workers", () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    requireVenv();
    emu = await startEmulator({ executor: "workers", workerPollWaitMs: 1000, workers: { env: { MODEL_ALIASES: "qwen3:8b" } } }, { workersMax: 1 });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("generate: its request is accepted and it reads the whole answer and the usage", async () => {
    const messages = [
      { role: "system", content: "You are Greg's digital twin." },
      { role: "user", content: "what did I do on Tuesday" },
    ];
    const res = await metahumanGenerate(emu, messages, { model: "echo", temperature: 0 });
    expect(res.content).toBe("what did I do on Tuesday");
    expect(res.usage).toEqual({ promptTokens: 11, completionTokens: 6, totalTokens: 17 });
  });

  it("its top-level max_tokens is honoured (stock worker-vllm ignores it and answers 16 tokens)", async () => {
    const res = await metahumanGenerate(emu, [{ role: "user", content: "one two three four five" }], { maxTokens: 3 });
    expect(res.content).toBe("one two three");
    expect(res.usage?.completionTokens).toBe(3);
  });

  it("generateJSON: format json comes back as JSON it can parse", async () => {
    const parsed = await metahumanGenerateJSON(emu, [{ role: "user", content: 'tag "work" and "family"' }], { model: "qwen3:8b" });
    expect(parsed).toEqual({ echo: 'tag "work" and "family"' });
  });

  it("a model name the endpoint does not serve fails with what it does serve", async () => {
    await expect(metahumanGenerate(emu, [{ role: "user", content: "hi" }], { model: "llama3.1:70b" })).rejects.toThrow(
      "input.model: 'llama3.1:70b' is not served by this worker; it serves 'echo', 'qwen3:8b' (set MODEL_ALIASES on the endpoint to accept other names)",
    );
  });

  it("its parser finds no text in our worker's old output shape [{response}], only in worker-vllm's", () => {
    // Why the shape changed: MetaHuman OS reads output[0].choices[0].tokens; the old [{response, ...}] gave it nothing.
    expect(readLikeMetahuman([{ response: "hello", model: "echo" }]).content).toBeUndefined();
    expect(readLikeMetahuman([{ choices: [{ tokens: ["hello"] }], usage: { input: 1, output: 1 } }]).content).toBe("hello");
  });
});
