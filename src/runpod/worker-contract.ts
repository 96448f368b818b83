// The worker job contract (DESIGN.md "Worker job"), and readers for every output
// shape a RunPod LLM worker returns. Our worker (handler/job_handler.py) answers a
// job that does not stream in worker-vllm's shape, one element with the whole text:
// `[{choices:[{tokens:[text], finish_reason}], usage:{input, output}, model}]` (what
// MetaHuman OS's own RunPod client reads), and streams worker-vllm's chunks
// `{choices:[{tokens:[...]}], usage:{input, output}}` whose last one carries `finish_reason` and `model`.
// Also read: our earlier `{text}` deltas, our earlier
// `{response, model, usage, finish_reason}`, worker-vllm's OpenAI chat.completion in a
// list, OpenAI deltas, plain text chunks, and aggregated streams (lists of any of them).
import { z } from "zod";
import { ServerlessBadOutputError } from "./job-api-errors";

export const workerMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

const stopSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(16)]);

/** worker-vllm's `sampling_params` (vLLM's names), as far as our worker accepts them. */
export const workerSamplingParamsSchema = z
  .object({
    max_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    stop: stopSchema.optional(),
    seed: z.number().int().min(0).optional(),
    top_k: z.number().int().min(-1).optional(),
    min_p: z.number().min(0).max(1).optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    repetition_penalty: z.number().gt(0).max(10).optional(),
  })
  .strict();

/** A native job's input. The worker rejects unknown fields, so this schema is strict too. */
export const workerInputSchema = z
  .object({
    messages: z.array(workerMessageSchema).min(1),
    max_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    stop: stopSchema.optional(),
    seed: z.number().int().min(0).optional(),
    stream: z.boolean().optional(),
    /** The served model or one of its aliases (MODEL_ALIASES); another name fails the job. */
    model: z.string().min(1).optional(),
    /** "json": the answer is one JSON value (vLLM structured output). */
    format: z.enum(["text", "json"]).optional(),
    sampling_params: workerSamplingParamsSchema.optional(),
  })
  .strict();
export type WorkerInput = z.infer<typeof workerInputSchema>;

const usageSchema = z.union([
  z
    .object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number().optional() })
    .transform((u) => ({ promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens ?? u.prompt_tokens + u.completion_tokens })),
  // worker-vllm's own (non-OpenAI) shape.
  z.object({ input: z.number(), output: z.number() }).transform((u) => ({ promptTokens: u.input, completionTokens: u.output, totalTokens: u.input + u.output })),
]);
export type JobUsage = z.output<typeof usageSchema>;

export const workerOutputSchema = z.object({
  response: z.string(),
  model: z.string(),
  usage: usageSchema.optional(),
  finish_reason: z.string().nullable().optional(),
});

/** What one output (or one streamed chunk) says: text and, where present, model, usage, finish reason. */
export interface OutputPiece {
  text: string;
  model?: string;
  usage?: JobUsage;
  finishReason?: string;
}

const choiceSchema = z.object({
  message: z.object({ content: z.string().nullable().optional() }).optional(),
  delta: z.object({ content: z.string().nullable().optional() }).optional(),
  text: z.string().optional(),
  tokens: z.array(z.string()).optional(),
  finish_reason: z.string().nullable().optional(),
});
const openAiLikeSchema = z.object({
  choices: z.array(choiceSchema).min(1),
  model: z.string().optional(),
  usage: usageSchema.nullable().optional(),
});
// Our streamed yields: a text delta, maybe with the final model/usage/finish reason.
const deltaSchema = z.object({
  text: z.string().optional(),
  delta: z.string().optional(),
  model: z.string().optional(),
  usage: usageSchema.nullable().optional(),
  finish_reason: z.string().nullable().optional(),
});

function pieceOf(value: unknown): OutputPiece | undefined {
  if (typeof value === "string") return { text: value };
  const ours = workerOutputSchema.safeParse(value);
  if (ours.success) {
    return { text: ours.data.response, model: ours.data.model, usage: ours.data.usage, finishReason: ours.data.finish_reason ?? undefined };
  }
  const openAi = openAiLikeSchema.safeParse(value);
  if (openAi.success) {
    const choice = openAi.data.choices[0]!;
    const text = choice.message?.content ?? choice.delta?.content ?? choice.text ?? choice.tokens?.join("") ?? "";
    return { text, model: openAi.data.model, usage: openAi.data.usage ?? undefined, finishReason: choice.finish_reason ?? undefined };
  }
  // A chunk with `choices` that are not a readable list (worker-vllm's `tokens` not strings) is bad output, not an
  // empty delta that silently drops the text.
  if (value !== null && typeof value === "object" && "choices" in value) return undefined;
  const delta = deltaSchema.safeParse(value);
  if (delta.success && (delta.data.text !== undefined || delta.data.delta !== undefined || delta.data.finish_reason || delta.data.usage)) {
    return {
      text: delta.data.text ?? delta.data.delta ?? "",
      model: delta.data.model,
      usage: delta.data.usage ?? undefined,
      finishReason: delta.data.finish_reason ?? undefined,
    };
  }
  return undefined;
}

/** Merges pieces in order: texts concatenate, the last model/usage/finish reason win. */
function merge(pieces: OutputPiece[]): OutputPiece {
  const out: OutputPiece = { text: "" };
  for (const p of pieces) {
    out.text += p.text;
    out.model = p.model ?? out.model;
    out.usage = p.usage ?? out.usage;
    out.finishReason = p.finishReason ?? out.finishReason;
  }
  return out;
}

/** Reads one streamed chunk (the `output` of a `/stream` entry); a list is a batch of chunks. */
export function readChunk(chunk: unknown, jobId?: string): OutputPiece {
  if (Array.isArray(chunk)) return merge(chunk.map((c) => readChunk(c, jobId)));
  const piece = pieceOf(chunk);
  if (!piece) {
    throw new ServerlessBadOutputError(
      `job ${jobId ?? "?"}: streamed chunk ${JSON.stringify(chunk)?.slice(0, 200)} is none of: text, {text}, OpenAI delta, token batch`,
      jobId,
      chunk,
    );
  }
  return piece;
}

/** Reads a COMPLETED job's output. A list (worker-vllm, aggregated stream) is read item by item and merged. */
export function readOutput(output: unknown, jobId?: string): OutputPiece {
  if (Array.isArray(output)) {
    if (output.length === 0) throw new ServerlessBadOutputError(`job ${jobId ?? "?"}: output is an empty list`, jobId, output);
    return merge(output.map((o) => readOutput(o, jobId)));
  }
  const piece = pieceOf(output);
  if (!piece) {
    throw new ServerlessBadOutputError(
      `job ${jobId ?? "?"}: output ${JSON.stringify(output)?.slice(0, 200)} is none of: {response, model, usage, finish_reason}, OpenAI completion, text, token batches`,
      jobId,
      output,
    );
  }
  return piece;
}

/** A person-readable message from a job's `error` (a string, a JSON string of type/message/traceback, or an object). */
export function readWorkerError(error: unknown): string | undefined {
  if (error === undefined || error === null || error === "") return undefined;
  let value: unknown = error;
  if (typeof error === "string") {
    try {
      value = JSON.parse(error);
    } catch {
      return error;
    }
  }
  if (typeof value === "object" && value !== null) {
    const v = value as Record<string, unknown>;
    const inner = v.error_message ?? v.message ?? v.error;
    if (inner !== undefined) return typeof inner === "string" ? inner : (readWorkerError(inner) ?? JSON.stringify(inner));
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}
