// Typed errors of the RunPod job API client, members of the one family in src/common/errors.ts:
// HTTP failures are ApiCallErrors (url, status, redacted body, isRetryable); the job's own outcomes
// (deadline, FAILED, unreadable output) are MetaHumanErrors. Test them with `X.isInstance(error)`.
import { ApiCallError, MetaHumanError, errorMarker, type ApiCallErrorOptions } from "../common/errors";

const apiMarker = errorMarker("serverless-api");
const authMarker = errorMarker("serverless-auth");
const rateLimitMarker = errorMarker("serverless-rate-limit");
const timeoutMarker = errorMarker("serverless-timeout");
const jobFailedMarker = errorMarker("serverless-job-failed");
const badOutputMarker = errorMarker("serverless-bad-output");

/** A non-2xx answer (or no answer) from the job API. */
export class ServerlessApiError extends ApiCallError {
  constructor(options: ApiCallErrorOptions) {
    super({ name: "ServerlessApiError", ...options });
    apiMarker.set(this);
  }

  static override isInstance(error: unknown): error is ServerlessApiError {
    return apiMarker.has(error);
  }
}

/** 401/403 (or no key at all): the key is missing, wrong, or lacks access to the endpoint. */
export class ServerlessAuthError extends ServerlessApiError {
  constructor(options: ApiCallErrorOptions) {
    super({ name: "ServerlessAuthError", ...options, isRetryable: false });
    authMarker.set(this);
  }

  static override isInstance(error: unknown): error is ServerlessAuthError {
    return authMarker.has(error);
  }
}

/** 429 after the retries ran out (or with a Retry-After longer than we wait). */
export class ServerlessRateLimitError extends ServerlessApiError {
  constructor(options: ApiCallErrorOptions) {
    super({ name: "ServerlessRateLimitError", ...options, status: 429, isRetryable: true });
    rateLimitMarker.set(this);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }

  static override isInstance(error: unknown): error is ServerlessRateLimitError {
    return rateLimitMarker.has(error);
  }
}

/** The caller's deadline passed (`reason: "deadline"`) or RunPod's execution timeout ended the job (`"execution"`). */
export class ServerlessTimeoutError extends MetaHumanError {
  constructor(
    message: string,
    readonly reason: "deadline" | "execution",
    readonly jobId: string | undefined,
    readonly lastStatus: string | undefined,
  ) {
    super({ name: "ServerlessTimeoutError", message });
    timeoutMarker.set(this);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reason: this.reason, jobId: this.jobId, lastStatus: this.lastStatus };
  }

  static override isInstance(error: unknown): error is ServerlessTimeoutError {
    return timeoutMarker.has(error);
  }
}

/** The job ended FAILED (with the worker's message) or CANCELLED by someone else. */
export class ServerlessJobFailedError extends MetaHumanError {
  constructor(
    message: string,
    readonly jobId: string,
    readonly status: string,
    /** What the worker reported (its `error`), as a person-readable string. */
    readonly workerMessage: string | undefined,
  ) {
    super({ name: "ServerlessJobFailedError", message });
    jobFailedMarker.set(this);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), jobId: this.jobId, status: this.status };
  }

  static override isInstance(error: unknown): error is ServerlessJobFailedError {
    return jobFailedMarker.has(error);
  }
}

/** The job completed but its output matches none of the shapes we read. */
export class ServerlessBadOutputError extends MetaHumanError {
  constructor(
    message: string,
    readonly jobId: string | undefined,
    readonly output: unknown,
  ) {
    super({ name: "ServerlessBadOutputError", message });
    badOutputMarker.set(this);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), jobId: this.jobId };
  }

  static override isInstance(error: unknown): error is ServerlessBadOutputError {
    return badOutputMarker.has(error);
  }
}
