// The TS side of the worker job contract: our adapter reads the output shapes a RunPod LLM worker
// returns (our worker's worker-vllm shape, its streamed deltas, OpenAI completions, our older shape),
// rejects what is none of them, and the input type accepts what MetaHuman OS's own client sends.
import { describe, expect, it } from "vitest";
import { readChunk, readOutput, workerInputSchema } from "../../src/runpod/worker-contract";
import { ServerlessBadOutputError } from "../../src/runpod/job-api-errors";

describe("readOutput", () => {
  it("reads our worker's non-streamed answer: worker-vllm's one-element list with the whole text", () => {
    const output = [{ choices: [{ tokens: ["one two"], finish_reason: "length" }], usage: { input: 5, output: 2 }, model: "echo" }];
    expect(readOutput(output, "j1")).toEqual({
      text: "one two",
      model: "echo",
      finishReason: "length",
      usage: { promptTokens: 5, completionTokens: 2, totalTokens: 7 },
    });
  });

  it("reads worker-vllm's own shape without our extra keys", () => {
    expect(readOutput([{ choices: [{ tokens: ["a", "b"] }], usage: { input: 1, output: 2 } }])).toEqual({
      text: "ab",
      usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    });
  });

  it("reads worker-vllm's stream chunks one by one and aggregated: tokens concatenate, usage counts so far", () => {
    // What handler/job_handler.py streams (and worker-vllm does): {choices: [{tokens: [...]}], usage: {input, output}}.
    const chunks = [
      { choices: [{ tokens: ["one"] }], usage: { input: 4, output: 1 } },
      { choices: [{ tokens: [" two", " three"] }], usage: { input: 4, output: 3 } },
      { choices: [{ tokens: [" four"], finish_reason: "length" }], usage: { input: 4, output: 4 }, model: "echo" },
    ];
    expect(chunks.map((c) => readChunk(c).text)).toEqual(["one", " two three", " four"]);
    expect(readChunk(chunks[1])).toEqual({ text: " two three", usage: { promptTokens: 4, completionTokens: 3, totalTokens: 7 } });
    expect(readOutput(chunks)).toEqual({ text: "one two three four", model: "echo", finishReason: "length", usage: { promptTokens: 4, completionTokens: 4, totalTokens: 8 } });
    expect(() => readChunk({ choices: [{ tokens: "one" }], usage: { input: 1, output: 1 } }, "j5")).toThrow(ServerlessBadOutputError);
  });

  it("reads an aggregated stream of deltas: texts concatenate, the last usage and reason win", () => {
    const output = [
      { text: "one" },
      { text: " two" },
      { text: " three", finish_reason: "stop", model: "echo", usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } },
    ];
    expect(readOutput(output)).toEqual({ text: "one two three", model: "echo", finishReason: "stop", usage: { promptTokens: 3, completionTokens: 3, totalTokens: 6 } });
    expect(readChunk(output[0])).toEqual({ text: "one" });
  });

  it("reads an OpenAI chat.completion in a list, and the older {response} object", () => {
    const completion = { object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    expect(readOutput([completion]).text).toBe("hi");
    expect(readOutput({ response: "old", model: "m", finish_reason: "stop" })).toMatchObject({ text: "old", model: "m" });
  });

  it("rejects output that is none of the shapes, naming the job", () => {
    expect(() => readOutput([], "j2")).toThrow(ServerlessBadOutputError);
    expect(() => readOutput({ answer: "x" }, "j3")).toThrow(/job j3: output \{"answer":"x"\} is none of/);
    expect(() => readOutput([{ choices: [{ tokens: [1] }] }], "j4")).toThrow(ServerlessBadOutputError);
    expect(() => readChunk({ foo: 1 }, "j5")).toThrow(/job j5: streamed chunk/);
  });
});

describe("workerInputSchema", () => {
  it("accepts what MetaHuman OS's client sends and worker-vllm's sampling_params", () => {
    const metahuman = { messages: [{ role: "user", content: "hi" }], temperature: 0, max_tokens: 512, model: "echo", format: "json" };
    expect(workerInputSchema.parse(metahuman)).toEqual(metahuman);
    const workerVllm = { messages: [{ role: "user", content: "hi" }], sampling_params: { max_tokens: 64, temperature: 0.2, top_k: 20 } };
    expect(workerInputSchema.parse(workerVllm)).toEqual(workerVllm);
  });

  it("refuses what the worker refuses: unknown fields, a bad format, unknown sampling settings", () => {
    const base = { messages: [{ role: "user", content: "hi" }] };
    expect(workerInputSchema.safeParse({ ...base, prompt: "x" }).success).toBe(false);
    expect(workerInputSchema.safeParse({ ...base, format: "yaml" }).success).toBe(false);
    expect(workerInputSchema.safeParse({ ...base, sampling_params: { max_new_tokens: 5 } }).success).toBe(false);
    expect(workerInputSchema.safeParse({ ...base, temperature: 3 }).success).toBe(false);
  });
});
