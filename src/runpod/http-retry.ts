// The pieces every HTTP client here shares when it retries: reading Retry-After, backing off with
// jitter, and waiting in a way that an AbortSignal cuts short. What to retry is each client's own call.

/** Retry-After (delta-seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Exponential backoff, base × 2^attempt capped at maxMs. With `jitter`, full jitter: uniformly random up
 * to that step, so that many clients failing together do not retry in step.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, jitter = false): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return jitter ? Math.random() * step : step;
}

/**
 * Waits ms; rejects with the signal's reason as soon as it aborts. (`timer` is declared before the closure
 * that reads it: Pulumi's closure serializer, which ships this module inside the dynamic providers, cannot
 * follow a reference to a later `const`.)
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
