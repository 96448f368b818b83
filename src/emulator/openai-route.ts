// The emulator's OpenAI-compatible route, as RunPod serves it per queue endpoint:
//   POST /v2/{endpointId}/openai/v1/chat/completions   JSON chat.completion, or SSE chunks with `stream: true`
//   GET  /v2/{endpointId}/openai/v1/models             model list
// Like the platform, it turns each request into an ordinary job with input
// `{openai_route, openai_input}` in the same JobStore (so it counts in /health, shows in
// /_emulator/jobs and can be cancelled), waits for the worker's answer and translates it back.
// Not emulated: `/openai/v1/completions` (our handler only serves chat), rate limits and injected
// faults (RunPod documents no limits for this route). RunPod's 60 s cut of long streams is
// off by default: `streamCutMs` turns it on.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isFinal, type EndpointLookup, type Job, type JobStore } from "./job-store";

export interface OpenAIRouteOptions {
  apiKey: string;
  /** The same endpoint lookup as the job API: requests for an unknown endpoint get 404. */
  endpoints: EndpointLookup;
  /** Longest a non-streaming request waits for its job; then the job is cancelled and 504 answered. Default 300 000 ms. */
  waitMs?: number;
  /**
   * Emulates RunPod cutting an OpenAI-route stream after this long (users report 60 000 ms): the
   * connection is closed without `[DONE]`, and the job runs on as it does on the platform. Default off.
   */
  streamCutMs?: number;
}

/** RunPod's largest synchronous payload (/runsync): 20 MB. */
const BODY_LIMIT = 20 * 1024 * 1024;

// The handler validates every field and names the bad one; here only what the route itself needs.
const chatBodySchema = z.object({ stream: z.boolean().optional() }).passthrough();

type OpenAIErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "server_error" | "timeout";

interface OpenAIError {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

const openaiError = (message: string, type: OpenAIErrorType, code: string | null = null, param: string | null = null): OpenAIError => ({
  error: { message, type, param, code },
});

/**
 * A final job that did not complete, as an HTTP status and an OpenAI error body. The handler's
 * input errors start with the field path (`input.openai_input.max_tokens: ...`): those are the
 * client's fault (400, not retryable); the rest are the worker's (500).
 */
export function jobFailure(job: Job): { status: number; body: OpenAIError } {
  if (job.status === "TIMED_OUT") {
    return { status: 504, body: openaiError(`job ${job.id} ran past the endpoint's execution timeout of ${job.executionTimeoutMs} ms`, "timeout", "job_timed_out") };
  }
  if (job.status === "CANCELLED") {
    return { status: 409, body: openaiError(`job ${job.id} was cancelled before it finished`, "server_error", "job_cancelled") };
  }
  const message = workerMessage(job.error);
  const field = /^(input(?:\.[\w\[\]]+)*):/.exec(message)?.[1];
  if (field) return { status: 400, body: openaiError(message, "invalid_request_error", "invalid_input", field.replace(/^input\.openai_input\.?/, "") || null) };
  return { status: 500, body: openaiError(`job ${job.id} failed: ${message}`, "server_error", "job_failed") };
}

/** The SDK reports a raised exception as JSON {error_type, error_message, error_traceback}: keep the message, drop the traceback. */
function workerMessage(error: string | undefined): string {
  if (!error) return "the worker reported no error message";
  try {
    const parsed = JSON.parse(error) as { error_message?: unknown; error_type?: unknown };
    if (parsed && typeof parsed.error_message === "string") return `${String(parsed.error_type ?? "error")}: ${parsed.error_message}`;
  } catch {
    // Not JSON: the handler's own message.
  }
  return error;
}

/** A generator handler with return_aggregate_stream answers a list of its yields; one yield is the answer itself. */
export function unwrapOutput(output: unknown): unknown {
  return Array.isArray(output) && output.length === 1 ? output[0] : output;
}

export async function openaiRoutePlugin(app: FastifyInstance, options: OpenAIRouteOptions): Promise<void> {
  const { endpoints } = options;
  const waitMs = options.waitMs ?? 300_000;
  // The job system (registered before this plugin) decorates the app with the one store.
  const store = (): JobStore => app.jobSystem.store;

  const fail = (reply: FastifyReply, status: number, body: OpenAIError): FastifyReply => reply.code(status).send(body);

  /** Auth and endpoint as the job API checks them; returns the endpoint id, or undefined when a reply was sent. */
  const admit = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const auth = req.headers.authorization ?? "";
    // RunPod accepts the key with or without the Bearer scheme.
    if (auth !== `Bearer ${options.apiKey}` && auth !== options.apiKey) {
      fail(reply, 401, openaiError("Unauthorized: the Authorization header must carry a valid API key", "authentication_error", "invalid_api_key"));
      return undefined;
    }
    const { endpointId } = req.params as { endpointId: string };
    if (!endpoints(endpointId)) {
      fail(reply, 404, openaiError(`endpoint "${endpointId}" not found`, "not_found_error", "endpoint_not_found"));
      return undefined;
    }
    return endpointId;
  };

  /** Submits the job, waits for it (cancelling it if the client leaves or the wait ends) and answers its output as JSON. */
  const answerOnce = async (reply: FastifyReply, endpointId: string, input: unknown): Promise<FastifyReply> => {
    const job = store().submit(endpoints(endpointId)!, input, "runsync");
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    reply.raw.once("close", onClose);
    const done = await store()
      .waitFor(job.id, (j) => isFinal(j.status), waitMs, gone.signal)
      .finally(() => reply.raw.off("close", onClose));
    if (!done || !isFinal(done.status)) {
      // Nobody can read this job's result any more (the route hands out no job id): stop paying for it.
      store().cancel(job.id);
      if (gone.signal.aborted) return reply;
      return fail(reply, 504, openaiError(`job ${job.id} did not finish within ${waitMs} ms; it was cancelled`, "timeout", "job_wait_exceeded"));
    }
    if (done.status !== "COMPLETED") {
      const { status, body } = jobFailure(done);
      return fail(reply, status, body);
    }
    return reply.code(200).send(unwrapOutput(done.output));
  };

  /**
   * Streams the job's chunks as SSE. Headers go out with the first chunk, so a job that fails
   * before streaming anything (bad input) still answers with a plain HTTP error status.
   */
  const answerStream = async (reply: FastifyReply, endpointId: string, input: unknown): Promise<void> => {
    const jobs = store();
    const job = jobs.submit(endpoints(endpointId)!, input, "runsync");
    const res = reply.raw;
    let clientGone = false;
    let closing = false;
    let cut = false;
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableEnded) clientGone = true;
      gone.abort();
    };
    const onClosing = (): void => {
      closing = true;
      gone.abort();
    };
    res.once("close", onClose);
    jobs.once("closing", onClosing);
    const cutTimer =
      options.streamCutMs !== undefined
        ? setTimeout(() => {
            cut = true;
            gone.abort();
          }, options.streamCutMs)
        : undefined;
    cutTimer?.unref();
    reply.hijack();
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    };
    const send = (data: unknown): void => {
      start();
      res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    };
    const sendJson = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    try {
      let cursor = 0;
      for (;;) {
        // Wake on a new chunk or a final state; the wait is only a bound on how long one wait lasts.
        const current = await jobs.waitFor(job.id, (j) => j.stream.length > cursor || isFinal(j.status), 30_000, gone.signal);
        if (clientGone) {
          // The reader left: the job must not run on unread, as the platform cancels it too.
          jobs.cancel(job.id);
          return;
        }
        if (cut) {
          // RunPod's cut: the connection drops mid-stream, no [DONE]; the job is left running.
          res.destroy();
          return;
        }
        if (!current) {
          const body = openaiError(`job ${job.id} expired while streaming`, "server_error", "job_expired");
          if (started) {
            send(body);
            res.end();
          } else sendJson(500, body);
          return;
        }
        for (; cursor < current.stream.length; cursor++) send(current.stream[cursor]);
        if (isFinal(current.status)) {
          if (current.status === "COMPLETED") {
            send("[DONE]");
            res.end();
            return;
          }
          const { status, body } = jobFailure(current);
          if (started) {
            // Mid-stream the status line is gone: the error goes as an event, then the end marker, as vLLM's server does.
            send(body);
            send("[DONE]");
            res.end();
          } else sendJson(status, body);
          return;
        }
        if (closing) {
          // The emulator is shutting down: end the response so close() is not held by it.
          jobs.cancel(job.id);
          if (started) res.end();
          else sendJson(503, openaiError("the emulator is shutting down", "server_error", "shutting_down"));
          return;
        }
      }
    } finally {
      if (cutTimer) clearTimeout(cutTimer);
      res.off("close", onClose);
      jobs.off("closing", onClosing);
    }
  };

  app.post("/v2/:endpointId/openai/v1/chat/completions", { bodyLimit: BODY_LIMIT }, async (req, reply) => {
    const endpointId = admit(req, reply);
    if (endpointId === undefined) return reply;
    const parsed = chatBodySchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = issue.path.join(".") || null;
      return fail(reply, 400, openaiError(`invalid request body: ${param ?? "body"}: ${issue.message}; allowed is a JSON object of an OpenAI chat completion request`, "invalid_request_error", "invalid_body", param));
    }
    const input = { openai_route: "/v1/chat/completions", openai_input: parsed.data };
    if (parsed.data.stream === true) {
      await answerStream(reply, endpointId, input);
      return reply;
    }
    return answerOnce(reply, endpointId, input);
  });

  app.get("/v2/:endpointId/openai/v1/models", async (req, reply) => {
    const endpointId = admit(req, reply);
    if (endpointId === undefined) return reply;
    return answerOnce(reply, endpointId, { openai_route: "/v1/models", openai_input: {} });
  });
}
