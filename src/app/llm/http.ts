// The one place providers call fetch: threads the AbortSignal down, turns HTTP and
// network failures into LLM errors, and retries retryable ones with backoff that
// honours Retry-After up to a bound. Only the request is retried, never a stream
// that has started (its tokens were already delivered).
import { backoffMs, parseRetryAfter, sleep } from "../../runpod/http-retry";
import { LLMApiError, LLMConnectionError, isAbortError } from "./errors";

export interface HttpSettings {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** Retries after the first try. Default 2. */
  maxRetries?: number;
  /** First backoff step in ms; doubles each retry. Default 300. */
  retryBaseMs?: number;
  /** A longer Retry-After gives up instead of waiting. Default 10 000 ms. */
  maxRetryDelayMs?: number;
}

/** POSTs JSON (or GETs when body is undefined) and returns the OK response, body unread. */
export async function requestWithRetry(
  url: string,
  init: { method?: "GET" | "POST"; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal },
  settings: HttpSettings = {},
): Promise<Response> {
  const doFetch = settings.fetch ?? fetch;
  const maxRetries = settings.maxRetries ?? 2;
  const base = settings.retryBaseMs ?? 300;
  const maxDelay = settings.maxRetryDelayMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    let error: LLMApiError | LLMConnectionError;
    try {
      const response = await doFetch(url, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: {
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...settings.headers,
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init.signal,
      });
      if (response.ok) return response;
      const text = await response.text().catch(() => "");
      error = new LLMApiError(url, response.status, text, undefined, parseRetryAfter(response.headers.get("retry-after")));
    } catch (err) {
      if (isAbortError(err) || init.signal?.aborted) throw err;
      error = new LLMConnectionError(url, err);
    }
    if (!error.isRetryable || attempt >= maxRetries) throw error;
    const backoff = backoffMs(attempt, base, maxDelay);
    const retryAfter = error instanceof LLMApiError ? error.retryAfterMs : undefined;
    if (retryAfter !== undefined && retryAfter > maxDelay) throw error;
    await sleep(Math.min(maxDelay, Math.max(backoff, retryAfter ?? 0)), init.signal);
  }
}
