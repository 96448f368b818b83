// The official `openai` npm client on RunPod's OpenAI route of `npm run emulator`, answered by a real SDK worker
// (handler/handler.py, echo engine): models.list, chat.completions.create with and without streaming, completions.create, the
// client's own error classes for a bad field and a wrong key, and an abort that must leave the job CANCELLED.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../e2e/local-helpers";
import { startEmulatorCommand, type EmulatorCommand } from "./emulator-command";

interface JobView {
  id: string;
  status: string;
  input: { openai_route?: string; openai_input?: { messages?: Array<{ content: string }> } };
}

describe("the official openai client on the OpenAI route of npm run emulator", () => {
  let emu: EmulatorCommand;
  let client: OpenAI;
  let model: string;
  const jobs = async (): Promise<JobView[]> => (await (await fetch(`${emu.origin}/_emulator/jobs?endpointId=${emu.endpointId}`, { headers: { authorization: `Bearer ${emu.apiKey}` } })).json()) as JobView[];

  beforeAll(async () => {
    emu = await startEmulatorCommand({ env: { ECHO_TOKEN_DELAY_MS: "20" } });
    client = new OpenAI({ baseURL: `${emu.serverlessUrl}/${emu.endpointId}/openai/v1`, apiKey: emu.apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    expect(await emu.interrupt()).toBe(0);
  });

  it("models.list() names the model the worker serves", async () => {
    const page = await client.models.list();
    expect(page.data.length).toBeGreaterThanOrEqual(1);
    expect(page.data[0]).toMatchObject({ object: "model", id: expect.any(String) });
    model = page.data[0]!.id;
  });

  it("chat.completions.create() without streaming: one chat.completion with the answer, finish reason and usage", async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "one two three four five" },
      ],
      max_tokens: 3,
      temperature: 0,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe(model);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ index: 0, message: { role: "assistant", content: "one two three" }, finish_reason: "length" });
    expect(completion.usage).toMatchObject({ completion_tokens: 3, total_tokens: completion.usage!.prompt_tokens + 3 });
  });

  it("chat.completions.create({stream: true}): deltas that add up to the answer, a finish reason, then usage", async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "streamed to the openai client" }],
      max_tokens: 32,
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    const finishReasons: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      for (const choice of chunk.choices) {
        if (choice.delta.content) deltas.push(choice.delta.content);
        if (choice.finish_reason) finishReasons.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("streamed to the openai client");
    expect(finishReasons).toEqual(["stop"]);
    expect(usage).toMatchObject({ completion_tokens: 5 });
  });

  it("a bad field is the client's BadRequestError naming the parameter; a wrong key its AuthenticationError; a model not served its NotFoundError", async () => {
    const bad = await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: -1 })
      .catch((err: unknown) => err);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("max_tokens");
    const stranger = new OpenAI({ baseURL: client.baseURL, apiKey: "not-the-key", maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const other = await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }).catch((err: unknown) => err);
    // As vLLM's own server answers it (issue 17): 404, which the client raises as its NotFoundError.
    expect(other).toBeInstanceOf(OpenAI.NotFoundError);
    expect((other as InstanceType<typeof OpenAI.NotFoundError>).status).toBe(404);
    expect((other as Error).message).toContain("The model `no-such-model` does not exist");
    expect((other as Error).message).toContain(model);
  });

  it("completions.create(): forwarded as a job like on RunPod, refused by our chat-only handler with a 400 naming openai_route", async () => {
    const refused = await client.completions.create({ model, prompt: "hi", max_tokens: 4 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain("input.openai_route");
    expect((refused as Error).message).toContain("/v1/chat/completions");
    const job = (await jobs()).find((j) => j.input.openai_route === "/v1/completions");
    expect(job?.status).toBe("FAILED");
  });

  it("aborting a stream ends the client's iteration and leaves the job CANCELLED", async () => {
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const abort = new AbortController();
    const stream = await client.chat.completions.create(
      { model, messages: [{ role: "user", content: words }], max_tokens: 300, stream: true },
      { signal: abort.signal },
    );
    const seen: string[] = [];
    // The client ends the iteration quietly on its own abort (its Stream swallows the AbortError).
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) seen.push(text);
      if (seen.length === 2) abort.abort();
    }
    expect(stream.controller.signal.aborted).toBe(true);
    expect(seen.slice(0, 2).join("")).toBe("w0 w1");
    expect(seen.length).toBeLessThan(300);
    let job: JobView | undefined;
    await until("the aborted job to be CANCELLED", async () => {
      job = (await jobs()).find((j) => j.input.openai_input?.messages?.[0]?.content === words);
      return job?.status === "CANCELLED";
    }, 10_000);
    // The worker is free again: the next request completes.
    const after = await client.chat.completions.create({ model, messages: [{ role: "user", content: "after the abort" }] });
    expect(after.choices[0]!.message.content).toBe("after the abort");
  });
});
