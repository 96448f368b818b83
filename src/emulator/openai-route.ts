// The emulator's OpenAI-compatible route, as RunPod serves it per queue endpoint:
//   POST /v2/{endpointId}/openai/v1/chat/completions   JSON chat.completion, or SSE chunks with `stream: true`
//   POST /v2/{endpointId}/openai/v1/completions        the same for text completions (forwarded; our handler refuses it)
//   GET  /v2/{endpointId}/openai/v1/models             model list
// Like the platform, it turns each request into an ordinary job with input
// `{openai_route, openai_input}` in the same JobStore (so it counts in /health, shows in
// /_emulator/jobs and can be cancelled), waits for the worker's answer and translates it back.
// Every request becomes a job, whatever the handler serves: the worker answers what it does not (here
// `/v1/completions`) with an error naming `openai_route`, as on the platform. Not emulated: rate limits
// and injected faults (RunPod documents no limits for this route). RunPod's 60 s cut of long streams is
// off by default: `streamCutMs` turns it on.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isFinal, type EndpointLookup, type JobEndpoint, type JobStore } from "./job-store";
import { jobFailure, openaiError, type OpenAIError } from "./openai-errors";
import { SseJobRelay } from "./openai-stream";

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

declare module "fastify" {
  interface FastifyRequest {
    /** The endpoint an OpenAI-route request was admitted to. */
    openaiEndpoint: JobEndpoint | null;
  }
}

/** A generator handler with return_aggregate_stream answers a list of its yields; one yield is the answer itself. */
function unwrapOutput(output: unknown): unknown {
  return Array.isArray(output) && output.length === 1 ? output[0] : output;
}

const fail = (reply: FastifyReply, status: number, body: OpenAIError): FastifyReply => reply.code(status).send(body);

/** Submits the job, waits for it (cancelling it if the client leaves or the wait ends) and answers its output as JSON. */
async function answerOnce(store: JobStore, reply: FastifyReply, endpoint: JobEndpoint, input: unknown, waitMs: number): Promise<FastifyReply> {
  const job = store.submit(endpoint, input, "runsync");
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  reply.raw.once("close", onClose);
  const done = await store.waitFor(job.id, (j) => isFinal(j.status), waitMs, gone.signal).finally(() => reply.raw.off("close", onClose));
  if (!done || !isFinal(done.status)) {
    // Nobody can read this job's result any more (the route hands out no job id): stop paying for it.
    store.cancel(job.id);
    if (gone.signal.aborted) return reply;
    return fail(reply, 504, openaiError(`job ${job.id} did not finish within ${waitMs} ms; it was cancelled`, "timeout", "job_wait_exceeded"));
  }
  if (done.status !== "COMPLETED") {
    const { status, body } = jobFailure(done);
    return fail(reply, status, body);
  }
  return reply.code(200).send(unwrapOutput(done.output));
}

export async function openaiRoutePlugin(app: FastifyInstance, options: OpenAIRouteOptions): Promise<void> {
  const { endpoints, apiKey } = options;
  const waitMs = options.waitMs ?? 300_000;
  // The job system (registered before this plugin) decorates the app with the one store.
  const store = (): JobStore => app.jobSystem.store;

  // Auth and endpoint as the job API checks them, before the body is read.
  app.decorateRequest("openaiEndpoint", null);
  app.addHook("onRequest", async (request, reply) => {
    const auth = request.headers.authorization ?? "";
    // RunPod accepts the key with or without the Bearer scheme.
    if (auth !== `Bearer ${apiKey}` && auth !== apiKey) {
      return fail(reply, 401, openaiError("Unauthorized: the Authorization header must carry a valid API key", "authentication_error", "invalid_api_key"));
    }
    const { endpointId } = request.params as { endpointId: string };
    const endpoint = endpoints(endpointId);
    if (!endpoint) return fail(reply, 404, openaiError(`endpoint "${endpointId}" not found`, "not_found_error", "endpoint_not_found"));
    request.openaiEndpoint = endpoint;
  });

  const completions = (route: "/v1/chat/completions" | "/v1/completions") => async (request: FastifyRequest, reply: FastifyReply) => {
    const parsed = chatBodySchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = issue.path.join(".") || null;
      return fail(reply, 400, openaiError(`invalid request body: ${param ?? "body"}: ${issue.message}; allowed is a JSON object of an OpenAI completion request`, "invalid_request_error", "invalid_body", param));
    }
    const input = { openai_route: route, openai_input: parsed.data };
    if (parsed.data.stream !== true) return answerOnce(store(), reply, request.openaiEndpoint!, input, waitMs);
    const job = store().submit(request.openaiEndpoint!, input, "runsync");
    reply.hijack();
    await new SseJobRelay(store(), job, reply.raw).run(options.streamCutMs);
    return reply;
  };
  app.post("/v2/:endpointId/openai/v1/chat/completions", { bodyLimit: BODY_LIMIT }, completions("/v1/chat/completions"));
  app.post("/v2/:endpointId/openai/v1/completions", { bodyLimit: BODY_LIMIT }, completions("/v1/completions"));

  app.get("/v2/:endpointId/openai/v1/models", async (request, reply) =>
    answerOnce(store(), reply, request.openaiEndpoint!, { openai_route: "/v1/models", openai_input: {} }, waitMs),
  );
}
