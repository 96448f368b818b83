// POST /api/chat: streams the answer as server-sent events
//   progress {stage, detail?} · delta {text} · done {model, usage?, finishReason?, cost?} · error {message, retryable}
// GET /api/chat/limits: what one request may hold (CHAT_LIMITS), for the page.
// then stores the exchange in the user's episodic memory and writes one audit line (chat-record.ts).
// A client that goes away aborts the generation (and so cancels a RunPod job), from the moment the
// request arrives (chat-stream.ts). On shutdown (chat-drain.ts) new chats get 503 and open ones are
// given a grace, then stopped, which cancels their jobs. A volume that cannot be written is refused
// before a job is submitted: the model must not run (and be billed) when saving will fail.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { ApiCallError, MetaHumanError } from "../../../common/errors";
import { wellFormedString } from "../../../common/well-formed-text";
import { ServerlessTimeoutError } from "../../../runpod/job-api-errors";
import type { JobTimesReport, LLMMessage, LLMUsage } from "../../llm/types";
import { readJson } from "../../paths";
import { HttpError, type AppContext } from "../context";
import { requireUser } from "../session-guard";
import { recordChatSpend } from "../spend";
import { ShutdownAbort, type OpenChats } from "./chat-drain";
import { recordChat, type ChatOutcome } from "./chat-record";
import { openSse, watchClient, type ClientPresence, type SseWriter } from "./chat-stream";

/**
 * What one chat request may hold: the schema below and the app's body limit read these, and the page
 * reads them from GET /api/chat/limits to keep the history it resends within them (one definition).
 */
export const CHAT_LIMITS = {
  /** Messages in one request (the history the page resends, the new message included). */
  maxMessages: 40,
  /** Characters (UTF-16 code units, as JavaScript's length counts them) in one message. */
  maxMessageChars: 8_000,
  /** Bytes of the whole request body (the app's bodyLimit). */
  maxBodyBytes: 512 * 1024,
} as const;
export const MAX_MESSAGE_CHARS = CHAT_LIMITS.maxMessageChars;
export const MAX_MESSAGES = CHAT_LIMITS.maxMessages;

const chatSchema = z.object({
  messages: z
    .array(z.object({ role: z.enum(["user", "assistant"]), content: wellFormedString(z.string().min(1).max(CHAT_LIMITS.maxMessageChars)) }))
    .min(1)
    .max(CHAT_LIMITS.maxMessages)
    .refine((m) => m[m.length - 1]?.role === "user", "the last message must be the user's"),
  maxTokens: z.number().int().min(1).max(4096).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

/** Words for a person; internal details (URLs, bodies, stack traces) stay in the log. */
export function describeFailure(err: unknown): { message: string; retryable: boolean } {
  if (ServerlessTimeoutError.isInstance(err) || (ApiCallError.isInstance(err) && err.timedOut)) {
    return { message: "The model took too long to answer. Please try again.", retryable: true };
  }
  if (ApiCallError.isInstance(err) && err.status === undefined) {
    return { message: "The language model cannot be reached right now. Please try again in a moment.", retryable: true };
  }
  if (MetaHumanError.isInstance(err) && err.isRetryable) {
    return { message: "The model is busy or restarting. Please try again in a moment.", retryable: true };
  }
  return { message: "The model could not answer this message.", retryable: false };
}

async function systemPrompt(ctx: AppContext, username: string): Promise<LLMMessage[]> {
  // A persona the user keeps on the volume (persona/core.json) may carry its own prompt.
  try {
    const core = (await readJson(ctx.paths.user(username).persona.core)) as { systemPrompt?: unknown } | undefined;
    if (core && typeof core.systemPrompt === "string" && core.systemPrompt.trim()) return [{ role: "system", content: core.systemPrompt }];
  } catch {
    // An unreadable persona must not block chatting.
  }
  return [];
}

interface Generation {
  outcome: ChatOutcome;
  text: string;
  model: string;
  usage?: LLMUsage;
  coldStartSeconds?: number;
  error?: unknown;
  /** The serverless job's own times, when the provider reports them (spend per chat). */
  job?: JobTimesReport;
}

/** Runs the provider's stream, relaying each event to the page and timing the first token and the cold start. */
async function generate(ctx: AppContext, conversation: LLMMessage[], options: { maxTokens?: number; temperature?: number; signal: AbortSignal }, sse: SseWriter): Promise<Generation> {
  const started = performance.now();
  const result: Generation = { outcome: "ok", text: "", model: ctx.env.LLM_MODEL ?? ctx.provider.name };
  let finishReason: string | undefined;
  let coldStartBegan: number | undefined;
  const coldStartEnds = () => {
    if (coldStartBegan !== undefined && result.coldStartSeconds === undefined) result.coldStartSeconds = (performance.now() - coldStartBegan) / 1000;
  };
  try {
    for await (const event of ctx.provider.stream(conversation, options)) {
      if (event.type === "progress") {
        if (event.stage === "cold-start") coldStartBegan ??= performance.now();
        else coldStartEnds();
        sse.send("progress", { stage: event.stage, ...(event.detail ? { detail: event.detail } : {}) });
      } else if (event.type === "text-delta") {
        coldStartEnds();
        if (result.text === "") ctx.metrics.llmFirstToken.observe({ provider: ctx.provider.name }, (performance.now() - started) / 1000);
        result.text += event.text;
        sse.send("delta", { text: event.text });
      } else {
        result.model = event.model;
        result.usage = event.usage;
        result.job = event.job;
        finishReason = event.finishReason;
      }
    }
    // The chat's GPU time and dollars (spend.ts), for the page to show discreetly; absent when the provider has no job times.
    const spend = result.job ? recordChatSpend(ctx, { delayMs: result.job.delayMs, executionMs: result.job.executionMs }) : undefined;
    const cost = spend ? { cost: { gpuSeconds: Math.round(spend.gpuSeconds * 10) / 10, ...(spend.usd !== undefined ? { usd: Math.round(spend.usd * 10_000) / 10_000 } : {}) } } : {};
    sse.send("done", { model: result.model, ...(result.usage ? { usage: result.usage } : {}), ...(finishReason ? { finishReason } : {}), ...cost });
  } catch (err) {
    if (options.signal.aborted) {
      result.outcome = "aborted";
      if (options.signal.reason instanceof ShutdownAbort) {
        sse.send("error", { message: "The server is restarting, so this answer was stopped. Please send your message again in a moment.", retryable: true });
      }
    } else {
      result.outcome = "error";
      result.error = err;
      sse.send("error", describeFailure(err));
    }
  }
  return result;
}

export const chatRoutes: FastifyPluginAsync<{ ctx: AppContext; openChats: OpenChats }> = async (app, { ctx, openChats }) => {
  app.get("/api/chat/limits", async (_request, reply) => {
    reply.header("cache-control", "no-cache");
    return CHAT_LIMITS;
  });

  app.post("/api/chat", async (request, reply) => {
    const client = watchClient(request, reply);
    if (openChats.draining) {
      client.stop();
      throw new HttpError(503, "The server is restarting. Please send your message again in a moment.", { "retry-after": "10" });
    }
    const open = openChats.begin();
    try {
      await handleChat(request, reply, client, open.signal);
    } finally {
      open.done();
    }
  });

  async function handleChat(request: FastifyRequest, reply: FastifyReply, client: ClientPresence, shutdown: AbortSignal): Promise<void> {
    const username = requireUser(ctx, request);
    const wait = ctx.chatLimiter.hit(`chat:${username}`);
    if (wait !== undefined) {
      throw new HttpError(429, "You are sending messages too quickly. Please wait a moment.", { "retry-after": String(Math.ceil(wait / 1000)) });
    }
    const parsed = chatSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, `Invalid chat request: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
    }
    const { messages, maxTokens, temperature } = parsed.data;
    const tree = await ctx.paths.ensureUser(username);
    const unwritable = await ctx.paths.checkWritable();
    if (unwritable) {
      request.log.error({ reason: unwritable }, "the volume refuses writes; chat refused before submitting a job");
      throw new HttpError(503, "Your data volume cannot be written to right now, so your message was not sent to the model (nothing was run or billed). Please try again later.");
    }
    const conversation: LLMMessage[] = [...(await systemPrompt(ctx, username)), ...messages];

    const sse = openSse(reply);
    const started = performance.now();
    const startedAt = ctx.now();
    ctx.metrics.activeStreams.inc();
    let result: Generation;
    try {
      result = await generate(ctx, conversation, { signal: AbortSignal.any([client.signal, shutdown]), maxTokens, temperature }, sse);
    } finally {
      ctx.metrics.activeStreams.dec();
    }
    if (result.outcome === "error") request.log.error({ err: result.error }, "chat generation failed");

    const seconds = (performance.now() - started) / 1000;
    ctx.metrics.chats.inc({ outcome: result.outcome });
    ctx.metrics.llmDuration.observe({ provider: ctx.provider.name, outcome: result.outcome }, seconds);
    if (result.coldStartSeconds !== undefined) ctx.metrics.coldStart.observe({ provider: ctx.provider.name }, result.coldStartSeconds);
    if (result.outcome !== "aborted") ctx.recentChats.record(result.outcome === "ok", result.coldStartSeconds);

    try {
      await recordChat(ctx.paths, tree, {
        username,
        provider: ctx.provider.name,
        model: result.model,
        outcome: result.outcome,
        startedAt,
        durationMs: Math.round(seconds * 1000),
        message: messages[messages.length - 1]!.content,
        response: result.text,
        ...(result.usage ? { usage: result.usage } : {}),
        ...(result.coldStartSeconds !== undefined ? { coldStartMs: Math.round(result.coldStartSeconds * 1000) } : {}),
        ...(result.outcome === "error" ? { error: result.error } : {}),
      });
    } catch (err) {
      request.log.error({ err }, "could not record the chat on the volume");
      sse.send("error", { message: "Your answer arrived but could not be saved to memory.", retryable: false });
    }
    // Record before ending the response, so a client that reads "done" finds the memory on disk.
    client.stop();
    sse.end();
    // Alerts (alert-watch.ts): after the answer, never delaying it.
    void ctx.alertWatch?.check();
  }
};
