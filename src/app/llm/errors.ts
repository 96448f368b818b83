// One error family for every provider. An API error carries what a person needs to
// act on it (url, status, body) and whether trying again could help. Aborts are
// never wrapped: callers test for them with isAbortError.

export class LLMError extends Error {
  constructor(
    message: string,
    readonly isRetryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "LLMError";
  }
}

/** Statuses where the same request may succeed later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export class LLMApiError extends LLMError {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly responseBody: string,
    message?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message ?? `${url} answered HTTP ${status}: ${responseBody.slice(0, 300)}`, isRetryableStatus(status));
    this.name = "LLMApiError";
  }
}

/** The backend could not be reached at all (refused, reset, DNS). Retryable. */
export class LLMConnectionError extends LLMError {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`could not reach ${url}: ${(cause as Error)?.message ?? String(cause)}`, true, { cause });
    this.name = "LLMConnectionError";
  }
}

/** The backend answered, but not in the shape its protocol promises. */
export class LLMResponseError extends LLMError {
  constructor(message: string) {
    super(message, false);
    this.name = "LLMResponseError";
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}
