// The in-process executor (unit tests only) answers exactly like a real RunPod SDK worker
// (handler/handler.py, ENGINE=echo): the same table of job inputs, good and bad, goes through the job
// API of two emulators, one per executor, and status, error, output and streamed chunks must be equal
// (OpenAI ids and timestamps, which name the job and the second, aside).
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

const requireVenv = () => {
  if (!existsSync(".venv/bin/python")) throw new Error(".venv/bin/python is missing: run `bash scripts/setup-python.sh` first (these tests run real RunPod SDK workers from it)");
};

const SETTINGS = { MODEL_ALIASES: "metahuman-default", STREAM_BATCH_TOKENS: "3", MAX_MODEL_LEN: "64", DEFAULT_MAX_TOKENS: "12" };
const user = (content: string) => [{ role: "user", content }];
const chat = (content: string) => ({ openai_route: "/v1/chat/completions", openai_input: { model: "echo", messages: user(content) } });
const twenty = Array.from({ length: 20 }, (_, i) => `w${i}`).join(" ");

const CASES: Array<[string, unknown]> = [
  ["plain", { messages: [{ role: "system", content: "be kind" }, ...user("one two three four five")], max_tokens: 50, temperature: 0 }],
  ["max_tokens cuts the answer", { messages: user("one two three four five"), max_tokens: 2 }],
  ["no max_tokens: the default", { messages: user(twenty) }],
  ["streamed in batches", { messages: user(twenty), max_tokens: 30, stream: true }],
  ["JSON", { messages: user('say "héllo" \\ twice'), format: "json", max_tokens: 30 }],
  ["MetaHuman OS's request", { messages: user("plan my day"), temperature: 0.7, max_tokens: 512 - 460, model: "metahuman-default", format: "json" }],
  ["worker-vllm's sampling_params", { messages: user("a b c d e"), sampling_params: { max_tokens: 3, top_k: 5, repetition_penalty: 1.1 } }],
  ["empty user message, streamed", { messages: [{ role: "system", content: "s" }, ...user("")], stream: true }],
  ["unknown field", { messages: user("x"), n_predict: 5 }],
  ["prompt and messages together", { messages: user("x"), prompt: "x" }],
  ["worker-vllm prompt", { prompt: "tell me", apply_chat_template: true, max_batch_size: 50 }],
  ["prompt not a string", { prompt: ["a"] }],
  ["max_tokens 0", { messages: user("x"), max_tokens: 0 }],
  ["max_tokens over the context", { messages: user("one two three"), max_tokens: 62 }],
  ["prompt fills the context", { messages: user(Array.from({ length: 64 }, () => "w").join(" ")) }],
  ["a model it does not serve", { messages: user("x"), model: "gpt-4o" }],
  ["no messages", { messages: [] }],
  ["a robot's message", { messages: [{ role: "robot", content: "beep" }] }],
  ["hot temperature", { messages: user("x"), temperature: "hot" }],
  ["long bad value", { messages: user("x"), stop: ["", "y".repeat(100)] }],
  ["format yaml", { messages: user("x"), format: "yaml" }],
  ["unknown sampling setting", { messages: user("x"), sampling_params: { max_new_tokens: 5 } }],
  ["max_tokens twice", { messages: user("x"), max_tokens: 5, sampling_params: { max_tokens: 6 } }],
  ["not an object", "hello"],
  ["OpenAI chat", chat("hello there friend")],
  ["OpenAI chat streamed with usage", { openai_route: "/v1/chat/completions", openai_input: { messages: user("a b c d e f g"), stream: true, stream_options: { include_usage: true }, max_completion_tokens: 5 } }],
  ["OpenAI JSON", { openai_route: "/v1/chat/completions", openai_input: { messages: user("x y"), response_format: { type: "json_object" } } }],
  ["OpenAI models", { openai_route: "/v1/models" }],
  ["OpenAI n=2", { openai_route: "/v1/chat/completions", openai_input: { messages: user("x"), n: 2 } }],
  ["OpenAI unknown route", { openai_route: "/v1/embeddings", openai_input: {} }],
  ["OpenAI wrong model", { openai_route: "/v1/chat/completions", openai_input: { model: "gpt-4o", messages: user("x") } }],
];

/** What a client sees of a finished job, with the job's own id and the clock taken out. */
async function answer(emu: RunningEmulator, input: unknown) {
  const run = await call(emu, "POST", "/run", { input });
  expect(run.status).toBe(200);
  const id = run.body.id as string;
  let job = (await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body;
  for (let i = 0; i < 5 && !["COMPLETED", "FAILED"].includes(job.status); i++) job = (await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body;
  const stream = (await call(emu, "GET", `/stream/${id}`)).body.stream as unknown[];
  const normalize = (value: unknown) => JSON.parse(JSON.stringify(value ?? null).replaceAll(id, "JOB").replace(/"created":\d+/g, '"created":0'));
  return { status: job.status, error: job.error ?? null, output: normalize(job.output), stream: normalize(stream) };
}

describe("the in-process executor answers like a real SDK worker", () => {
  let real: RunningEmulator;
  let inProcess: RunningEmulator;

  beforeAll(async () => {
    requireVenv();
    real = await startEmulator({ executor: "workers", workerPollWaitMs: 1000, workers: { env: SETTINGS } }, { workersMax: 1 });
    inProcess = await startEmulator({
      inProcess: { worker: { modelAliases: ["metahuman-default"], streamBatchTokens: 3, maxModelLen: 64, defaultMaxTokens: 12 } },
    });
  });
  afterAll(async () => {
    await Promise.all([real?.close(), inProcess?.close()]);
  });

  it("gives equal answers for every input of the table", async () => {
    const differences: string[] = [];
    const seen = { completed: 0, failed: 0 };
    for (const [name, input] of CASES) {
      const [fromWorker, fromInProcess] = [await answer(real, input), await answer(inProcess, input)];
      if (JSON.stringify(fromWorker) !== JSON.stringify(fromInProcess)) {
        differences.push(`${name}:\n  worker:     ${JSON.stringify(fromWorker)}\n  in-process: ${JSON.stringify(fromInProcess)}`);
      }
      if (fromWorker.status === "COMPLETED") seen.completed += 1;
      else seen.failed += 1;
    }
    expect(differences.join("\n")).toBe("");
    // The table covers both kinds of answer.
    expect(seen.completed).toBeGreaterThanOrEqual(10);
    expect(seen.failed).toBeGreaterThanOrEqual(10);
  }, 120_000);

  it("honours max_tokens and returns worker-vllm's shape, as the worker does", async () => {
    const fromInProcess = await answer(inProcess, { messages: user("one two three four"), max_tokens: 2 });
    expect(fromInProcess.output).toEqual([{ choices: [{ tokens: ["one two"], finish_reason: "length" }], usage: { input: 4, output: 2 }, model: "echo" }]);
  });
});
