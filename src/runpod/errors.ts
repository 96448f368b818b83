// One error shape for every failure of the REST v2 client: problem+json answers, network failures,
// timeouts and answers that do not match the spec.

export interface RunPodApiErrorInfo {
  /** HTTP method and path (never the key, never a query with secrets). */
  method: string;
  path: string;
  /** HTTP status; 0 when no answer came (network failure, timeout). */
  status: number;
  /** problem+json `title` (or a short name of the failure). */
  title: string;
  /** problem+json `detail`. */
  detail: string;
  /** problem+json `errors`: one line per field that failed validation. */
  fieldErrors: string[];
  /** Whether trying again later may succeed (408, 409, 429, 5xx, network failures, timeouts). */
  retryable: boolean;
  /** The server's `Retry-After`, in ms, when it sent one. */
  retryAfterMs?: number;
}

/**
 * An Error carrying the fields above. Made by a factory, not a subclass: a serialized Pulumi provider
 * turns an `extends Error` class into a plain function, whose instances lose their message and stack;
 * a real Error keeps them, so `pulumi up` shows RunPod's words.
 */
export type RunPodApiError = Error & Readonly<RunPodApiErrorInfo> & { name: "RunPodApiError" };

export function createRunPodApiError(info: RunPodApiErrorInfo, options?: { cause?: unknown }): RunPodApiError {
  const error = new Error(formatRunPodApiError(info), options) as Error & RunPodApiErrorInfo;
  error.name = "RunPodApiError";
  Object.assign(error, info);
  return error as RunPodApiError;
}

/** What a person sees: the call, the status, RunPod's words, then one line per bad field. */
export function formatRunPodApiError(info: RunPodApiErrorInfo): string {
  const status = info.status === 0 ? "no response" : String(info.status);
  const head = `RunPod API ${info.method} ${info.path} failed (${status} ${info.title}): ${info.detail}`;
  return info.fieldErrors.length === 0 ? head : `${head}\n${info.fieldErrors.map((line) => `  - ${line}`).join("\n")}`;
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export function isRunPodApiError(error: unknown): error is RunPodApiError {
  return error instanceof Error && error.name === "RunPodApiError" && typeof (error as { status?: unknown }).status === "number";
}

export function isNotFound(error: unknown): boolean {
  return isRunPodApiError(error) && error.status === 404;
}
