// The one HTTP helper every client here uses (the REST v2 client inside Pulumi's dynamic providers, the
// job API client and the LLM providers of the web pod): one attempt that turns any failure into an
// ApiCallError with a redacted, bounded body; and one retry loop with exponential backoff, full jitter,
// Retry-After honoured up to a bound, and waits that the caller's AbortSignal cuts short. The caller's
// abort is never retried or wrapped; a failure that is not retried is thrown as it is.
//
// Our own small helper rather than ky or p-retry: both are ESM-only, and this module must load with
// `require` inside a serialized Pulumi provider and under Pulumi's ts-node. Function declarations only,
// each closure reading only what is declared before it (Pulumi's closure serializer).
import { ApiCallError, MetaHumanError, type ApiCallErrorOptions } from "./errors";
import { bodyExcerpt, redactSecrets, secretsInHeaders } from "./redact";

/** Retry-After (delta-seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Exponential backoff with full jitter: uniformly random up to base × 2^attempt (capped at maxMs), so
 * that many clients failing together do not retry in step.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/**
 * Waits ms; rejects with the signal's reason as soon as it aborts. (`timer` is declared before the
 * closure that reads it: Pulumi's closure serializer cannot follow a reference to a later `const`.)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let timer: ReturnType<typeof setTimeout> | undefined = undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First backoff step in ms; doubles each retry (with full jitter). */
  baseDelayMs: number;
  /** Longest backoff step, and the longest Retry-After waited for: a longer one gives up at once. */
  maxDelayMs: number;
  /** Whether this failure may be retried; default: the error's own `isRetryable`. */
  shouldRetry?: (error: MetaHumanError) => boolean;
  signal?: AbortSignal;
  /** For tests: the jitter source. */
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails in a way that is not retried, or the retries run out. Only
 * MetaHumanErrors are retried, and only when `shouldRetry` says so; anything else is thrown untouched.
 */
export async function withRetries<T>(attempt: (attemptNo: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attemptNo = 0; ; attemptNo++) {
    try {
      return await attempt(attemptNo);
    } catch (error) {
      if (policy.signal?.aborted || !MetaHumanError.isInstance(error) || attemptNo >= policy.maxRetries) throw error;
      const retry = policy.shouldRetry ? policy.shouldRetry(error) : error.isRetryable;
      if (!retry) throw error;
      const retryAfterMs = ApiCallError.isInstance(error) ? error.retryAfterMs : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxDelayMs) throw error;
      await sleep(retryAfterMs ?? backoffMs(attemptNo, policy.baseDelayMs, policy.maxDelayMs, policy.random), policy.signal);
    }
  }
}

export interface HttpRequest {
  url: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  headers?: Record<string, string>;
  /** Sent as JSON when defined. */
  body?: unknown;
  /** The caller's signal: its abort is passed on as it is. */
  signal?: AbortSignal;
  /** Our own limit for this attempt; its expiry becomes a retryable ApiCallError with `timedOut`. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** What a failed attempt knew, for a client that builds its own ApiCallError subclass. */
export interface HttpFailure {
  request: HttpRequest;
  /** Undefined when no answer came. */
  status?: number;
  statusText?: string;
  /** The whole body as received (unredacted: only for parsing; keep `excerpt` in errors). */
  bodyText?: string;
  /** The body, redacted and bounded. */
  excerpt?: string;
  retryAfterMs?: number;
  timedOut: boolean;
  cause?: unknown;
  /** Redacts with the secrets this request sent, for a client's own message text. */
  redact(text: string): string;
}

/** The message and fields of an ApiCallError (or a subclass) for a failed attempt. */
export function httpErrorOptions(failure: HttpFailure): ApiCallErrorOptions {
  const { request } = failure;
  const what =
    failure.status !== undefined ? `answered ${failure.status}${failure.excerpt ? `: ${failure.excerpt}` : ""}`
    : failure.timedOut ? `got no answer within ${request.timeoutMs} ms`
    : `failed before an answer: ${failure.redact(String((failure.cause as Error)?.message ?? failure.cause))}`;
  return {
    message: `${request.method} ${request.url} ${what}`,
    url: request.url,
    method: request.method,
    status: failure.status,
    responseBody: failure.excerpt,
    retryAfterMs: failure.retryAfterMs,
    timedOut: failure.timedOut,
    cause: failure.cause,
  };
}

/** The error a failed attempt becomes when the client has no subclass of its own. */
export function defaultHttpError(failure: HttpFailure): ApiCallError {
  return new ApiCallError(httpErrorOptions(failure));
}

/**
 * One attempt. Resolves with the OK response, body unread. Any other outcome throws: the caller's own
 * abort as it is; everything else as `toError(failure)` (an ApiCallError by default).
 */
export async function sendHttp(request: HttpRequest, toError: (failure: HttpFailure) => Error = defaultHttpError): Promise<Response> {
  const secrets = secretsInHeaders(request.headers);
  const redact = (text: string) => redactSecrets(text, secrets);
  const timeout = request.timeoutMs === undefined ? undefined : AbortSignal.timeout(request.timeoutMs);
  const signals = [request.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await (request.fetch ?? globalThis.fetch)(request.url, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal,
    });
  } catch (cause) {
    if (request.signal?.aborted) throw request.signal.reason;
    throw toError({ request, timedOut: timeout?.aborted ?? false, cause, redact });
  }
  if (response.ok) return response;
  const bodyText = await response.text().catch(() => "");
  throw toError({
    request,
    status: response.status,
    statusText: response.statusText,
    bodyText,
    excerpt: bodyExcerpt(bodyText, secrets),
    retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    timedOut: false,
    redact,
  });
}
