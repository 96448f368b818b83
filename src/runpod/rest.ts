// A typed client for RunPod's management API, REST v2 (network volumes, serverless endpoints, pods,
// catalog). Settings in the style of vercel/ai: `{ baseURL?, apiKey?, fetch?, timeoutMs? }`, the key
// read from RUNPOD_API_KEY only when a request is made. Answers are checked with zod; failures become
// one RunPodApiError. Retries (src/common/http.ts): a 429 is always retried after its Retry-After
// (bounded), since the server refused the call before doing anything; 5xx, timeouts and network
// failures are retried only for calls that are safe to repeat (GET, PATCH, DELETE) — never a create,
// which could make two. Plain functions only: Pulumi serializes the providers that call this module.
import { z } from "zod";
import { MetaHumanError } from "../common/errors";
import { sendHttp, withRetries, type HttpFailure } from "../common/http";
import { RunPodApiError } from "./errors";
import {
  cpuTypeSchema,
  dataCenterSchema,
  endpointSchema,
  gpuTypeSchema,
  networkVolumeSchema,
  podSchema,
  problemSchema,
  type CreateEndpointBody,
  type CreateNetworkVolumeBody,
  type CreatePodBody,
  type PodAction,
  type UpdateEndpointBody,
  type UpdateNetworkVolumeBody,
  type UpdatePodBody,
} from "./schemas";

export const DEFAULT_RUNPOD_API_URL = "https://api.runpod.io";

export interface RunPodRestSettings {
  /** REST base without `/v2`; default RUNPOD_API_URL, else https://api.runpod.io. */
  baseURL?: string;
  /** Default RUNPOD_API_KEY, read at request time. */
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
  /** Per-attempt timeout; default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt; default 3. */
  maxRetries?: number;
  /** Longest wait honoured from Retry-After (and longest backoff step); a longer one fails at once. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Backoff before a retry without Retry-After: up to base × 2^attempt (full jitter); default 500 ms. */
  retryBaseDelayMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

interface CallSpec<T> {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  /** Undefined: the answer has no body (204). */
  schema?: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** Whether repeating the call after an unknown outcome is harmless. */
  idempotent: boolean;
  signal?: AbortSignal;
}

/** A failed attempt as RunPod's words: problem+json's title, detail and field errors when the body is one. */
function restError(path: string, failure: HttpFailure): RunPodApiError {
  const base = { method: failure.request.method, path, url: failure.request.url, cause: failure.cause };
  if (failure.status === undefined) {
    return new RunPodApiError({
      ...base,
      title: failure.timedOut ? "Timeout" : "Network error",
      detail: failure.timedOut
        ? `no answer within ${failure.request.timeoutMs} ms`
        : failure.redact(String((failure.cause as Error)?.message ?? failure.cause)),
      fieldErrors: [],
      timedOut: failure.timedOut,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(failure.bodyText ?? "");
  } catch {
    parsed = undefined;
  }
  const problem = problemSchema().safeParse(parsed);
  const title = (problem.success ? problem.data.title : undefined) ?? (failure.statusText || "Error");
  return new RunPodApiError({
    ...base,
    status: failure.status,
    title: failure.redact(title),
    // Not problem+json (a proxy's HTML page, say): a short, single-line, redacted excerpt.
    detail: problem.success ? failure.redact(problem.data.detail ?? "") : (failure.excerpt ?? "").slice(0, 200),
    fieldErrors: problem.success ? (problem.data.errors ?? []).map(failure.redact) : [],
    responseBody: failure.excerpt,
    retryAfterMs: failure.retryAfterMs,
  });
}

/** Builds a client. Nothing is read from the environment until the first request. */
export function createRunPodRestClient(settings: RunPodRestSettings = {}) {
  const maxRetries = settings.maxRetries ?? 3;
  const maxRetryAfterMs = settings.maxRetryAfterMs ?? 60_000;
  const retryBaseDelayMs = settings.retryBaseDelayMs ?? 500;
  const timeoutMs = settings.timeoutMs ?? 30_000;

  function resolveKey(): string {
    const key = settings.apiKey ?? process.env.RUNPOD_API_KEY;
    if (key === undefined || key === "") {
      throw new MetaHumanError({
        name: "RunPodConfigError",
        message: "RUNPOD_API_KEY is not set: pass `apiKey` or set the RUNPOD_API_KEY environment variable",
      });
    }
    return key;
  }

  function resolveBase(): string {
    return (settings.baseURL ?? process.env.RUNPOD_API_URL ?? DEFAULT_RUNPOD_API_URL).replace(/\/+$/, "");
  }

  async function attempt<T>(call: CallSpec<T>): Promise<T> {
    const url = `${resolveBase()}${call.path}`;
    const response = await sendHttp(
      {
        url,
        method: call.method,
        headers: { ...settings.headers, accept: "application/json, application/problem+json", authorization: `Bearer ${resolveKey()}` },
        body: call.body,
        signal: call.signal,
        timeoutMs,
        fetch: settings.fetch,
      },
      (failure) => restError(call.path, failure),
    );
    if (call.schema === undefined) {
      await response.body?.cancel();
      return undefined as T;
    }
    const json: unknown = await response.json().catch(() => undefined);
    const parsed = call.schema.safeParse(json);
    if (!parsed.success) {
      throw new RunPodApiError({
        method: call.method,
        path: call.path,
        url,
        status: response.status,
        title: "Unexpected response",
        detail: "the answer does not match the REST v2 spec",
        fieldErrors: parsed.error.issues.map((issue) => `$.${issue.path.join(".")}: ${issue.message}`),
        isRetryable: false,
      });
    }
    return parsed.data;
  }

  function request<T>(call: CallSpec<T>): Promise<T> {
    return withRetries(() => attempt(call), {
      maxRetries,
      baseDelayMs: retryBaseDelayMs,
      maxDelayMs: maxRetryAfterMs,
      signal: call.signal,
      // A refused call (429) did nothing: safe to repeat even for a create. Anything else that may have
      // reached RunPod is repeated only when repeating is harmless.
      shouldRetry: (error) => error.isRetryable && (call.idempotent || (RunPodApiError.isInstance(error) && error.status === 429)),
    });
  }

  const id = (value: string) => encodeURIComponent(value);

  return {
    networkVolumes: {
      get: (volumeId: string, o: RequestOptions = {}) =>
        request({ method: "GET", path: `/v2/network-volumes/${id(volumeId)}`, idempotent: true, signal: o.signal,
          schema: networkVolumeSchema() }),
      create: (body: CreateNetworkVolumeBody, o: RequestOptions = {}) =>
        request({ method: "POST", path: "/v2/network-volumes", body, idempotent: false, signal: o.signal,
          schema: networkVolumeSchema() }),
      update: (volumeId: string, body: UpdateNetworkVolumeBody, o: RequestOptions = {}) =>
        request({ method: "PATCH", path: `/v2/network-volumes/${id(volumeId)}`, body, idempotent: true,
          signal: o.signal, schema: networkVolumeSchema() }),
      delete: (volumeId: string, o: RequestOptions = {}) =>
        request<void>({ method: "DELETE", path: `/v2/network-volumes/${id(volumeId)}`, idempotent: true, signal: o.signal }),
    },
    endpoints: {
      get: (endpointId: string, o: RequestOptions = {}) =>
        request({ method: "GET", path: `/v2/serverless/${id(endpointId)}`, idempotent: true, signal: o.signal,
          schema: endpointSchema() }),
      create: (body: CreateEndpointBody, o: RequestOptions = {}) =>
        request({ method: "POST", path: "/v2/serverless", body, idempotent: false, signal: o.signal,
          schema: endpointSchema() }),
      update: (endpointId: string, body: UpdateEndpointBody, o: RequestOptions = {}) =>
        request({ method: "PATCH", path: `/v2/serverless/${id(endpointId)}`, body, idempotent: true,
          signal: o.signal, schema: endpointSchema() }),
      delete: (endpointId: string, o: RequestOptions = {}) =>
        request<void>({ method: "DELETE", path: `/v2/serverless/${id(endpointId)}`, idempotent: true, signal: o.signal }),
    },
    pods: {
      get: (podId: string, o: RequestOptions = {}) =>
        request({ method: "GET", path: `/v2/pods/${id(podId)}`, idempotent: true, signal: o.signal, schema: podSchema() }),
      create: (body: CreatePodBody, o: RequestOptions = {}) =>
        request({ method: "POST", path: "/v2/pods", body, idempotent: false, signal: o.signal, schema: podSchema() }),
      update: (podId: string, body: UpdatePodBody, o: RequestOptions = {}) =>
        request({ method: "PATCH", path: `/v2/pods/${id(podId)}`, body, idempotent: true, signal: o.signal,
          schema: podSchema() }),
      delete: (podId: string, o: RequestOptions = {}) =>
        request<void>({ method: "DELETE", path: `/v2/pods/${id(podId)}`, idempotent: true, signal: o.signal }),
      /** start/stop/restart are not repeated blindly after an unknown outcome: a restart could happen twice. */
      action: (podId: string, action: PodAction, o: RequestOptions = {}) =>
        request<void>({ method: "POST", path: `/v2/pods/${id(podId)}/action`, body: { action }, idempotent: false,
          signal: o.signal }),
    },
    catalog: {
      gpus: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/catalog/gpus", idempotent: true, signal: o.signal,
          schema: objectOf("gpus", gpuTypeSchema) }).then((r) => r.gpus),
      cpus: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/catalog/cpus", idempotent: true, signal: o.signal,
          schema: objectOf("cpus", cpuTypeSchema) }).then((r) => r.cpus),
      /** `include`: the availability lists RunPod adds only when asked (GPU_AVAILABILITY, CPU_AVAILABILITY). */
      datacenters: (o: RequestOptions & { include?: ("GPU_AVAILABILITY" | "CPU_AVAILABILITY")[] } = {}) =>
        request({ method: "GET", path: `/v2/catalog/datacenters${o.include?.length ? `?include=${o.include.join(",")}` : ""}`, idempotent: true, signal: o.signal,
          schema: objectOf("dataCenters", dataCenterSchema) }).then((r) => r.dataCenters),
    },
  };
}

export type RunPodRestClient = ReturnType<typeof createRunPodRestClient>;

/** `{ [key]: Item[] }`, the shape of every list answer. */
function objectOf<K extends string, S extends z.ZodTypeAny>(key: K, item: () => S) {
  return z.object({ [key]: z.array(item()) } as { [P in K]: z.ZodArray<S> }).passthrough();
}
