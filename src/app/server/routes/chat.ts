// POST /api/chat: streams the answer as server-sent events
//   progress {stage, detail?} · delta {text} · done {model, usage?, finishReason?} · error {message, retryable}
// then stores the exchange in the user's episodic memory and writes one audit line.
// A client that goes away aborts the generation (and so cancels a RunPod job).
import { randomUUID } from "node:crypto";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { LLMConnectionError, LLMError, isAbortError } from "../../llm/errors";
import type { LLMMessage, LLMUsage } from "../../llm/types";
import { appendAudit, appendEpisodic, readJson } from "../../paths";
import { HttpError, type AppContext } from "../context";
import { requireUser } from "../session-guard";

export const MAX_MESSAGE_CHARS = 8_000;
export const MAX_MESSAGES = 40;
const HEARTBEAT_MS = 15_000;

const chatSchema = z.object({
  messages: z
    .array(z.object({ role: z.enum(["user", "assistant"]), content: z.string().min(1).max(MAX_MESSAGE_CHARS) }))
    .min(1)
    .max(MAX_MESSAGES)
    .refine((m) => m[m.length - 1]?.role === "user", "the last message must be the user's"),
  maxTokens: z.number().int().min(1).max(4096).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

/** Words for a person; internal details (URLs, stack traces) stay in the log. */
function describeFailure(err: unknown): { message: string; retryable: boolean } {
  const name = (err as Error)?.name ?? "";
  if (name === "ServerlessTimeoutError" || name === "TimeoutError") return { message: "The model took too long to answer. Please try again.", retryable: true };
  if (err instanceof LLMConnectionError) return { message: "The language model cannot be reached right now. Please try again in a moment.", retryable: true };
  const retryable = err instanceof LLMError ? err.isRetryable : Boolean((err as { isRetryable?: boolean })?.isRetryable);
  if (retryable) return { message: "The model is busy or restarting. Please try again in a moment.", retryable: true };
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

export const chatRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post("/api/chat", async (request, reply) => {
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
    const conversation: LLMMessage[] = [...(await systemPrompt(ctx, username)), ...messages];

    const controller = new AbortController();
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const send = (event: string, data: unknown) => {
      if (!raw.destroyed && !raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // Proxies (RunPod's included) drop idle connections; a cold start can be silent for minutes.
    const heartbeat = setInterval(() => !raw.writableEnded && raw.write(": keep-alive\n\n"), HEARTBEAT_MS);
    raw.on("close", () => {
      if (!raw.writableFinished) controller.abort(new DOMException("client went away", "AbortError"));
    });

    const started = performance.now();
    const startedAt = ctx.now();
    let text = "";
    let model = ctx.env.LLM_MODEL ?? ctx.provider.name;
    let usage: LLMUsage | undefined;
    let finishReason: string | undefined;
    let coldStartBegan: number | undefined;
    let coldStartSeconds: number | undefined;
    let firstToken = false;
    let outcome: "ok" | "error" | "aborted" = "ok";
    let failure: string | undefined;
    ctx.metrics.activeStreams.inc();
    try {
      for await (const event of ctx.provider.stream(conversation, { signal: controller.signal, maxTokens, temperature })) {
        if (event.type === "progress") {
          if (event.stage === "cold-start" && coldStartBegan === undefined) coldStartBegan = performance.now();
          if (event.stage !== "cold-start" && coldStartBegan !== undefined && coldStartSeconds === undefined) {
            coldStartSeconds = (performance.now() - coldStartBegan) / 1000;
          }
          send("progress", { stage: event.stage, ...(event.detail ? { detail: event.detail } : {}) });
        } else if (event.type === "text-delta") {
          if (coldStartBegan !== undefined && coldStartSeconds === undefined) coldStartSeconds = (performance.now() - coldStartBegan) / 1000;
          if (!firstToken) {
            firstToken = true;
            ctx.metrics.llmFirstToken.observe({ provider: ctx.provider.name }, (performance.now() - started) / 1000);
          }
          text += event.text;
          send("delta", { text: event.text });
        } else {
          model = event.model;
          usage = event.usage;
          finishReason = event.finishReason;
        }
      }
      send("done", { model, ...(usage ? { usage } : {}), ...(finishReason ? { finishReason } : {}) });
    } catch (err) {
      if (controller.signal.aborted || isAbortError(err)) {
        outcome = "aborted";
      } else {
        outcome = "error";
        failure = (err as Error)?.message ?? String(err);
        request.log.error({ err }, "chat generation failed");
        send("error", describeFailure(err));
      }
    } finally {
      clearInterval(heartbeat);
      ctx.metrics.activeStreams.dec();
    }

    const seconds = (performance.now() - started) / 1000;
    ctx.metrics.chats.inc({ outcome });
    ctx.metrics.llmDuration.observe({ provider: ctx.provider.name, outcome }, seconds);
    if (coldStartSeconds !== undefined) ctx.metrics.coldStart.observe({ provider: ctx.provider.name }, coldStartSeconds);
    if (outcome !== "aborted") ctx.recentChats.record(outcome === "ok", coldStartSeconds);

    const timestamp = startedAt.toISOString();
    try {
      if (outcome === "ok") {
        await appendEpisodic(tree, {
          id: `evt-${randomUUID()}`,
          timestamp,
          type: "conversation",
          source: "web-chat",
          user: username,
          message: messages[messages.length - 1]!.content,
          response: text,
          model,
          ...(usage ? { usage } : {}),
        });
      }
      await appendAudit(ctx.paths.shared, {
        timestamp,
        event: "chat",
        user: username,
        provider: ctx.provider.name,
        model,
        outcome,
        durationMs: Math.round(seconds * 1000),
        ...(coldStartSeconds !== undefined ? { coldStartMs: Math.round(coldStartSeconds * 1000) } : {}),
        ...(usage ? { usage } : {}),
        ...(failure ? { error: failure.slice(0, 500) } : {}),
      });
    } catch (err) {
      request.log.error({ err }, "could not record the chat on the volume");
      send("error", { message: "Your answer arrived but could not be saved to memory.", retryable: false });
    }
    // Record before ending the response, so a client that reads "done" finds the memory on disk.
    raw.end();
  });
};
