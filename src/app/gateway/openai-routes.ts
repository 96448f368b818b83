// The pod's gateway to the serverless endpoint, as MetaHuman OS sees it: an OpenAI-compatible server on loopback
// (GET /v1/models, POST /v1/chat/completions, streamed or not). Behind it the job client streams every call (so a
// dropped request, a stop or the time bound cancels the RunPod job), never submits a job twice, and reports a cold
// start. MetaHuman OS holds only the gateway's own token (its OPENAI_API_KEY); the RunPod key stays in this process.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { wellFormedString } from "../../common/well-formed-text";
import type { JobTimesReport, LLMMessage, LLMProvider, LLMUsage } from "../llm/types";
import type { InFlightCalls } from "./in-flight";

export interface GatewayOptions {
  provider: LLMProvider;
  /** The one model the endpoint serves (the name MetaHuman OS is configured to send). */
  model: string;
  /** The bearer token MetaHuman OS sends (its OPENAI_API_KEY), made at each start. */
  token: string;
  inFlight: InFlightCalls;
  /** Most tokens one call may ask for: a runaway max_tokens cannot hold a GPU worker for long. */
  maxTokens: number;
  /** Deadline of one call, queue and cold start included. */
  timeoutMs: number;
  /** Each finished job's times (spend and metrics), and each call's outcome. */
  onJob?: (job: JobTimesReport) => void;
  onCall?: (call: { outcome: "ok" | "error" | "aborted"; durationMs: number; coldStartMs?: number; usage?: LLMUsage }) => void;
}

const contentPart = z.object({ type: z.literal("text"), text: wellFormedString(z.string()) }).passthrough();
const chatRequest = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({
    role: z.enum(["system", "user", "assistant", "developer"]),
    content: z.union([wellFormedString(z.string()), z.array(contentPart)]),
  }).passthrough()).min(1),
  max_tokens: z.number().int().min(1).optional().nullable(),
  max_completion_tokens: z.number().int().min(1).optional().nullable(),
  temperature: z.number().min(0).max(2).optional().nullable(),
  stream: z.boolean().optional().nullable(),
  response_format: z.object({ type: z.enum(["text", "json_object", "json_schema"]) }).passthrough().optional().nullable(),
}).passthrough();

/**
 * OpenAI's error shape, which the openai client and MetaHuman OS's provider read. `x-should-retry: false` because a
 * client's retry of a call is a new RunPod job: the job client behind the gateway has already retried what RunPod
 * certainly did not take, and the openai client would otherwise resubmit on every 5xx (a failed job ran 3 times).
 */
function sendError(reply: FastifyReply, status: number, message: string, type: string, param?: string, code?: string) {
  return reply.code(status).header("x-should-retry", "false").send({ error: { message, type, param: param ?? null, code: code ?? null } });
}

const digest = (text: string) => createHash("sha256").update(text).digest();

export const gatewayRoutes: FastifyPluginAsync<GatewayOptions> = async (app, options) => {
  app.addHook("onRequest", async (request, reply) => {
    const header = request.headers.authorization;
    const given = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!timingSafeEqual(digest(given), digest(options.token))) {
      return sendError(reply, 401, "The gateway needs its bearer token (MetaHuman OS's OPENAI_API_KEY).", "invalid_request_error", undefined, "invalid_api_key");
    }
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: [{ id: options.model, object: "model", created: 0, owned_by: "metahuman-runpod" }],
  }));

  app.post("/v1/chat/completions", async (request, reply) => {
    const parsed = chatRequest.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".") || "body";
      return sendError(reply, 400, `${field}: ${issue.message}`, "invalid_request_error", field);
    }
    const body = parsed.data;
    if (body.model !== options.model) {
      return sendError(reply, 404, `The model \`${body.model}\` does not exist; this endpoint serves \`${options.model}\`.`, "invalid_request_error", "model", "model_not_found");
    }
    const wanted = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    if (wanted !== undefined && wanted > options.maxTokens) {
      return sendError(reply, 400, `max_tokens: ${wanted} is more than this gateway allows (${options.maxTokens}, GATEWAY_MAX_TOKENS)`, "invalid_request_error", "max_tokens");
    }
    if (options.inFlight.refusing) {
      options.onCall?.({ outcome: "aborted", durationMs: 0 });
      return sendError(reply, 499, "The person stopped this chat; its remaining calls are not run.", "cancelled", undefined, "chat_stopped");
    }
    const messages: LLMMessage[] = body.messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
    }));
    return serveCall(request, reply, options, messages, {
      maxTokens: wanted ?? options.maxTokens,
      ...(body.temperature !== undefined && body.temperature !== null ? { temperature: body.temperature } : {}),
      format: body.response_format && body.response_format.type !== "text" ? "json" : "text",
      stream: body.stream === true,
    });
  });
};

async function serveCall(
  request: FastifyRequest,
  reply: FastifyReply,
  options: GatewayOptions,
  messages: LLMMessage[],
  call: { maxTokens: number; temperature?: number; format: "text" | "json"; stream: boolean },
) {
  const started = Date.now();
  const controller = new AbortController();
  const release = options.inFlight.add(controller);
  const timer = setTimeout(() => controller.abort(new Error(`the call took longer than ${options.timeoutMs} ms (GATEWAY_TIMEOUT_MS)`)), options.timeoutMs);
  // The caller went away before the answer: stop the generation, which cancels its RunPod job.
  const onClose = () => { if (!reply.raw.writableFinished) controller.abort(new Error("the caller closed the request")); };
  reply.raw.on("close", onClose);
  const id = `chatcmpl-${started.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const created = Math.floor(started / 1000);
  let text = "";
  let usage: LLMUsage | undefined;
  let finishReason = "stop";
  let coldStartAt: number | undefined;
  let firstToken: number | undefined;
  let headersSent = false;
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: options.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  try {
    for await (const event of options.provider.stream(messages, { maxTokens: call.maxTokens, temperature: call.temperature, format: call.format, signal: controller.signal })) {
      if (event.type === "progress") {
        if (event.stage === "cold-start" && coldStartAt === undefined) coldStartAt = Date.now();
        continue;
      }
      if (event.type === "text-delta") {
        firstToken ??= Date.now();
        text += event.text;
        if (call.stream) {
          if (!headersSent) {
            reply.raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
            reply.raw.write(chunk({ role: "assistant", content: "" }, null));
            headersSent = true;
          }
          reply.raw.write(chunk({ content: event.text }, null));
        }
        continue;
      }
      usage = event.usage;
      if (event.finishReason === "length") finishReason = "length";
      if (event.job) options.onJob?.(event.job);
    }
    const coldStartMs = coldStartAt !== undefined && firstToken !== undefined ? firstToken - coldStartAt : undefined;
    options.onCall?.({ outcome: "ok", durationMs: Date.now() - started, ...(coldStartMs !== undefined ? { coldStartMs } : {}), ...(usage ? { usage } : {}) });
    const openaiUsage = usage ? { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens } : undefined;
    if (call.stream) {
      if (!headersSent) reply.raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      reply.raw.write(chunk({}, finishReason));
      if (openaiUsage) reply.raw.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: options.model, choices: [], usage: openaiUsage })}\n\n`);
      reply.raw.end("data: [DONE]\n\n");
      return reply;
    }
    return reply.send({
      id, object: "chat.completion", created, model: options.model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }],
      ...(openaiUsage ? { usage: openaiUsage } : {}),
    });
  } catch (err) {
    const aborted = controller.signal.aborted;
    options.onCall?.({ outcome: aborted ? "aborted" : "error", durationMs: Date.now() - started });
    const reason = aborted ? String((controller.signal.reason as Error)?.message ?? "stopped") : "the serverless endpoint could not answer";
    request.log.warn({ err, aborted }, "gateway call failed");
    if (headersSent) {
      reply.raw.end(`data: ${JSON.stringify({ error: { message: reason, type: aborted ? "cancelled" : "upstream_error" } })}\n\n`);
      return reply;
    }
    if (reply.raw.destroyed) return reply;
    return sendError(reply, aborted ? 499 : 502, `The call was stopped: ${reason}.`, aborted ? "cancelled" : "upstream_error");
  } finally {
    clearTimeout(timer);
    reply.raw.off("close", onClose);
    release();
  }
}
