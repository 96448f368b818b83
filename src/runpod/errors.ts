// One error type for every failure of the REST v2 client: problem+json answers, network failures,
// timeouts and answers that do not match the spec. Plain fields only (no #private), because Pulumi
// serializes the dynamic providers that throw it.

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

export class RunPodApiError extends Error {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly fieldErrors: string[];
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(info: RunPodApiErrorInfo, options?: { cause?: unknown }) {
    super(formatRunPodApiError(info), options);
    this.name = "RunPodApiError";
    this.method = info.method;
    this.path = info.path;
    this.status = info.status;
    this.title = info.title;
    this.detail = info.detail;
    this.fieldErrors = info.fieldErrors;
    this.retryable = info.retryable;
    this.retryAfterMs = info.retryAfterMs;
  }
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
  return error instanceof Error && error.name === "RunPodApiError" && "status" in error;
}

export function isNotFound(error: unknown): boolean {
  return isRunPodApiError(error) && error.status === 404;
}
