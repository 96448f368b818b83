// Typed errors of the RunPod job API client. One base class; API errors carry
// url, status, body and whether a retry may help. Never a key in a message or URL.

export class ServerlessError extends Error {
  /** Whether repeating the same call may succeed. */
  readonly isRetryable: boolean;
  constructor(message: string, isRetryable = false, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.isRetryable = isRetryable;
  }
}

/** A non-2xx answer (or no answer) from the job API. */
export class ServerlessApiError extends ServerlessError {
  constructor(
    message: string,
    readonly url: string,
    /** HTTP status; undefined when the request failed before an answer. */
    readonly status: number | undefined,
    readonly responseBody: string | undefined,
    isRetryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, isRetryable, options);
  }
}

/** 401/403: the key is missing, wrong, or lacks access to the endpoint. */
export class ServerlessAuthError extends ServerlessApiError {}

/** 429 after the retries ran out. */
export class ServerlessRateLimitError extends ServerlessApiError {
  constructor(message: string, url: string, responseBody: string | undefined, readonly retryAfterMs: number | undefined) {
    super(message, url, 429, responseBody, true);
  }
}

/** The caller's deadline passed (`reason: "deadline"`) or RunPod's execution timeout ended the job (`"execution"`). */
export class ServerlessTimeoutError extends ServerlessError {
  constructor(
    message: string,
    readonly reason: "deadline" | "execution",
    readonly jobId: string | undefined,
    readonly lastStatus: string | undefined,
  ) {
    super(message, false);
  }
}

/** The job ended FAILED (with the worker's message) or CANCELLED by someone else. */
export class ServerlessJobFailedError extends ServerlessError {
  constructor(
    message: string,
    readonly jobId: string,
    readonly status: string,
    /** What the worker reported (its `error`), as a person-readable string. */
    readonly workerMessage: string | undefined,
  ) {
    super(message, false);
  }
}

/** The job completed but its output matches none of the shapes we read. */
export class ServerlessBadOutputError extends ServerlessError {
  constructor(
    message: string,
    readonly jobId: string | undefined,
    readonly output: unknown,
  ) {
    super(message, false);
  }
}
