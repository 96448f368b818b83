// The REST v2 client's error: an ApiCallError that also carries what a problem+json answer says
// (title, detail, one line per bad field), so `pulumi up` shows RunPod's own words. Shipped inside the
// dynamic providers by Pulumi's closure serializer: see src/common/errors.ts for what that asks of it.
import { ApiCallError, errorMarker } from "../common/errors";

export interface RunPodApiErrorInfo {
  /** HTTP method and path (never the key, never a query with secrets). */
  method: string;
  path: string;
  /** The full URL called. */
  url: string;
  /** HTTP status; undefined when no answer came (network failure, timeout). */
  status?: number;
  /** problem+json `title` (or a short name of the failure). */
  title: string;
  /** problem+json `detail` (redacted). */
  detail: string;
  /** problem+json `errors`: one line per field that failed validation. */
  fieldErrors: string[];
  /** The body as received, redacted and bounded. */
  responseBody?: string;
  /** The server's `Retry-After`, in ms, when it sent one. */
  retryAfterMs?: number;
  timedOut?: boolean;
  /** Default: the status rule of ApiCallError (408, 409, 429, 5xx, no answer). */
  isRetryable?: boolean;
  cause?: unknown;
}

const marker = errorMarker("runpod-rest");

/** What a person sees: the call, the status, RunPod's words, then one line per bad field. */
export function formatRunPodApiError(info: Pick<RunPodApiErrorInfo, "method" | "path" | "status" | "title" | "detail" | "fieldErrors">): string {
  const status = info.status === undefined ? "no response" : String(info.status);
  const head = `RunPod API ${info.method} ${info.path} failed (${status} ${info.title}): ${info.detail}`;
  return info.fieldErrors.length === 0 ? head : `${head}\n${info.fieldErrors.map((line) => `  - ${line}`).join("\n")}`;
}

export class RunPodApiError extends ApiCallError {
  readonly path: string;
  readonly title: string;
  readonly detail: string;
  readonly fieldErrors: string[];

  constructor(info: RunPodApiErrorInfo) {
    super({
      name: "RunPodApiError",
      message: formatRunPodApiError(info),
      url: info.url,
      method: info.method,
      status: info.status,
      responseBody: info.responseBody,
      retryAfterMs: info.retryAfterMs,
      timedOut: info.timedOut,
      isRetryable: info.isRetryable,
      cause: info.cause,
    });
    this.path = info.path;
    this.title = info.title;
    this.detail = info.detail;
    this.fieldErrors = info.fieldErrors;
    marker.set(this);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), title: this.title, detail: this.detail, fieldErrors: this.fieldErrors };
  }

  static override isInstance(error: unknown): error is RunPodApiError {
    return marker.has(error);
  }
}
