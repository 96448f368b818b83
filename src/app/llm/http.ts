// How providers call their backend: src/common/http.ts's one attempt and one retry loop, with the
// failures as LLMApiErrors. Only the request is retried, never a stream that has started (its tokens
// were already delivered).
import { httpErrorOptions, sendHttp, withRetries } from "../../common/http";
import { bodyExcerpt } from "../../common/redact";
import { LLMApiError, LLMResponseError } from "./errors";

export interface HttpSettings {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** Retries after the first try. Default 2. */
  maxRetries?: number;
  /** First backoff step in ms; doubles each retry (full jitter). Default 300. */
  retryBaseMs?: number;
  /** Longest backoff step; a longer Retry-After gives up instead of waiting. Default 10 000 ms. */
  maxRetryDelayMs?: number;
}

/** POSTs JSON (or GETs when body is undefined) and returns the OK response, body unread. */
export function requestWithRetry(
  url: string,
  init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal },
  settings: HttpSettings = {},
): Promise<Response> {
  return withRetries(
    () =>
      sendHttp(
        {
          url,
          method: init.body === undefined ? "GET" : "POST",
          headers: { ...settings.headers, ...init.headers },
          body: init.body,
          signal: init.signal,
          fetch: settings.fetch,
        },
        (failure) => new LLMApiError(httpErrorOptions(failure)),
      ),
    {
      maxRetries: settings.maxRetries ?? 2,
      baseDelayMs: settings.retryBaseMs ?? 300,
      maxDelayMs: settings.maxRetryDelayMs ?? 10_000,
      signal: init.signal,
    },
  );
}

/**
 * The OK answer's body as JSON. A body that is not JSON becomes an LLMResponseError quoting a redacted
 * excerpt (the platform's own parse error quotes the raw body, which may echo a key).
 */
export async function readJsonBody(response: Response, url: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new LLMResponseError(`${url} answered with a body that is not JSON: ${bodyExcerpt(text, [], 200)}`);
  }
}
