// One error family for every client here (REST v2, the job API, the LLM providers), in the manner of
// vercel/ai: a base class that says whether trying again may help, and an API-call error that carries
// url, status and the (redacted, bounded) response body. Callers test with the static `isInstance`,
// which reads a marker symbol, never with `error.name` and never only with `instanceof` (a second copy
// of this module, as a bundle or a serialized Pulumi provider makes, has other class objects).
//
// Written for Pulumi's closure serializer, which ships these classes inside the dynamic providers and
// rebuilds each class as a plain function: there `super(message)` is `Error.call(this, message)`, which
// sets nothing on `this`, so message and stack are set here by hand; and a class's prototype is linked
// to its base class's only when the class declares a method, so every class declares `toJSON`.
// test/runpod/provider-serialization.test.ts checks all of this in a plain `node`.
// No `new Error(message, { cause })` either: Pulumi's ts-node may compile without lib es2022.
import { redactSecrets } from "./redact";

const MARKER = "metahuman-runpod.error";

function hasMarker(error: unknown, marker: string): boolean {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[Symbol.for(marker)] === true;
}

function setMarker(target: object, marker: string): void {
  Object.defineProperty(target, Symbol.for(marker), { value: true, enumerable: false });
}

/** Statuses where the same request may succeed later: timeout, conflict, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export interface MetaHumanErrorOptions {
  /** The class's name, e.g. "RunPodApiError" (for people reading logs; code uses `isInstance`). */
  name: string;
  message: string;
  cause?: unknown;
  /** Whether repeating the same call may succeed. Default false. */
  isRetryable?: boolean;
}

/** The base of every error this project throws on purpose. Its message never holds a configured key. */
export class MetaHumanError extends Error {
  /** Whether repeating the same call may succeed. */
  readonly isRetryable: boolean;

  constructor(options: MetaHumanErrorOptions) {
    const message = redactSecrets(options.message);
    super(message);
    this.name = options.name;
    this.message = message;
    this.isRetryable = options.isRetryable ?? false;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
    setMarker(this, MARKER);
    // The stack's head names the class (V8 wrote "Error" there, or, serialized, there is no stack at all).
    const captured = typeof this.stack === "string" ? this.stack : (new Error(message).stack ?? "");
    const frames = captured.split("\n").filter((line) => /^\s+at /.test(line));
    this.stack = [`${this.name}: ${message}`, ...frames].join("\n");
  }

  /** What a log line or `JSON.stringify` shows (an Error's own fields are not enumerable). */
  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, isRetryable: this.isRetryable };
  }

  static isInstance(error: unknown): error is MetaHumanError {
    return hasMarker(error, MARKER);
  }
}

const API_CALL_MARKER = `${MARKER}.api-call`;

export interface ApiCallErrorOptions extends Omit<MetaHumanErrorOptions, "name"> {
  name?: string;
  /** The URL called (never with a key in it). */
  url: string;
  /** GET, POST, … */
  method: string;
  /** HTTP status; undefined when no answer came (network failure, timeout). */
  status?: number;
  /** An excerpt of the answer's body, already redacted and bounded (see `bodyExcerpt`). */
  responseBody?: string;
  /** The server's Retry-After, in ms. */
  retryAfterMs?: number;
  /** True when our own per-request timeout ended the call. */
  timedOut?: boolean;
}

/**
 * A call that failed: a non-2xx answer, no answer at all, or an answer that is not what the API
 * promises. Retryable by default for 408, 409, 429, 5xx and for calls that got no answer.
 */
export class ApiCallError extends MetaHumanError {
  readonly url: string;
  readonly method: string;
  readonly status: number | undefined;
  readonly responseBody: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly timedOut: boolean;

  constructor(options: ApiCallErrorOptions) {
    super({
      name: options.name ?? "ApiCallError",
      message: options.message,
      cause: options.cause,
      isRetryable: options.isRetryable ?? (options.status === undefined ? true : isRetryableStatus(options.status)),
    });
    this.url = options.url;
    this.method = options.method;
    this.status = options.status;
    this.responseBody = options.responseBody === undefined ? undefined : redactSecrets(options.responseBody);
    this.retryAfterMs = options.retryAfterMs;
    this.timedOut = options.timedOut ?? false;
    setMarker(this, API_CALL_MARKER);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), method: this.method, url: this.url, status: this.status, responseBody: this.responseBody };
  }

  static override isInstance(error: unknown): error is ApiCallError {
    return hasMarker(error, API_CALL_MARKER);
  }
}

/** Builds the marker helpers of a subclass, so each family member has its own `isInstance`. */
export function errorMarker(name: string): { set(target: object): void; has(error: unknown): boolean } {
  const marker = `${MARKER}.${name}`;
  return {
    set: (target) => setMarker(target, marker),
    has: (error) => hasMarker(error, marker),
  };
}
