// OpenAI-shaped errors of the emulator's OpenAI route, and how a job that did not complete becomes one.
import type { Job } from "./job-store";

export type OpenAIErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "server_error" | "timeout" | "NotFoundError";

export interface OpenAIError {
  /** `code` is a string for OpenAI's own codes; vLLM's server puts the HTTP status there (404). */
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | number | null };
}

export const openaiError = (message: string, type: OpenAIErrorType, code: string | null = null, param: string | null = null): OpenAIError => ({
  error: { message, type, param, code },
});

/** The handler's input errors start with the field path: `input.openai_input.max_tokens: ...`. */
const FIELD_PATH = /^(input(?:\.[\w[\]]+)*):/;

/**
 * A final job that did not complete, as an HTTP status and an OpenAI error body. The handler's
 * input errors name the field: those are the client's fault (400, not retryable); the rest are the worker's (500).
 */
export function jobFailure(job: Job): { status: number; body: OpenAIError } {
  if (job.status === "TIMED_OUT") {
    return { status: 504, body: openaiError(`job ${job.id} ran past the endpoint's execution timeout of ${job.executionTimeoutMs} ms`, "timeout", "job_timed_out") };
  }
  if (job.status === "CANCELLED") {
    return { status: 409, body: openaiError(`job ${job.id} was cancelled before it finished`, "server_error", "job_cancelled") };
  }
  const message = workerMessage(job.error);
  const field = FIELD_PATH.exec(message)?.[1];
  if (field === "input.openai_input.model" && message.includes("is not served by this worker")) {
    // vLLM's own server answers a model it does not serve with 404 and {error: {message: "The model `x` does not
    // exist.", type: "NotFoundError", param: "model", code: 404}}; the worker's message says what it does serve.
    const asked = (job.input as { openai_input?: { model?: unknown } } | undefined)?.openai_input?.model;
    const served = message.slice(message.indexOf("it serves") + "it ".length);
    return { status: 404, body: { error: { message: `The model \`${String(asked)}\` does not exist. This endpoint's worker ${served}`, type: "NotFoundError", param: "model", code: 404 } } };
  }
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
