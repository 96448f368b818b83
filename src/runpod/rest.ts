// A typed client for RunPod's management API, REST v2 (network volumes, serverless endpoints, pods,
// catalog). Settings in the style of vercel/ai: `{ baseURL?, apiKey?, fetch?, timeoutMs? }`, the key
// read from RUNPOD_API_KEY only when a request is made. Answers are checked with zod; failures become
// one RunPodApiError. Retries: a 429 is always retried after its Retry-After (bounded), since the
// server refused the call before doing anything; 5xx, timeouts and network failures are retried only
// for calls that are safe to repeat (GET, PATCH, DELETE) — never a create, which could make two.
// Plain functions only: Pulumi serializes the providers that call this module.
import { z } from "zod";
import { createRunPodApiError, isRetryableStatus, isRunPodApiError } from "./errors";
import { backoffMs, parseRetryAfter, sleep } from "./http-retry";
import {
  cpuTypeSchema,
  dataCenterSchema,
  endpointSchema,
  gpuTypeSchema,
  networkVolumeSchema,
  podSchema,
  problemSchema,
  workersSchema,
  type CreateEndpointBody,
  type CreateNetworkVolumeBody,
  type CreatePodBody,
  type PodAction,
  type UpdateEndpointBody,
  type UpdateNetworkVolumeBody,
  type UpdatePodBody,
} from "./schemas";

export { parseRetryAfter };

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
  /** Longest wait honoured from Retry-After; a longer one fails at once. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Backoff before a retry without Retry-After: base × 2^attempt; default 500 ms. */
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

async function readProblem(response: Response): Promise<{ title: string; detail: string; errors: string[] }> {
  const text = await response.text().catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const problem = problemSchema().safeParse(parsed);
  if (problem.success) {
    return {
      title: problem.data.title ?? response.statusText ?? "Error",
      detail: problem.data.detail ?? "",
      errors: problem.data.errors ?? [],
    };
  }
  // Not problem+json (a proxy's HTML page, say): keep a short, single-line excerpt.
  return { title: response.statusText || "Error", detail: text.replace(/\s+/g, " ").slice(0, 200), errors: [] };
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
      throw new Error("RUNPOD_API_KEY is not set: pass `apiKey` or set the RUNPOD_API_KEY environment variable");
    }
    return key;
  }

  function resolveBase(): string {
    return (settings.baseURL ?? process.env.RUNPOD_API_URL ?? DEFAULT_RUNPOD_API_URL).replace(/\/+$/, "");
  }

  async function attempt<T>(call: CallSpec<T>): Promise<T> {
    const doFetch = settings.fetch ?? globalThis.fetch;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const headers: Record<string, string> = {
      ...settings.headers,
      accept: "application/json, application/problem+json",
      authorization: `Bearer ${resolveKey()}`,
    };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await doFetch(`${resolveBase()}${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal,
      });
    } catch (error) {
      // The caller's abort is theirs: passed on untouched, never retried.
      if (call.signal?.aborted) throw error;
      const timedOut = timeout.aborted;
      throw createRunPodApiError(
        {
          method: call.method,
          path: call.path,
          status: 0,
          title: timedOut ? "Timeout" : "Network error",
          detail: timedOut ? `no answer within ${timeoutMs} ms` : (error as Error).message,
          fieldErrors: [],
          retryable: true,
        },
        { cause: error },
      );
    }
    if (!response.ok) {
      const problem = await readProblem(response);
      throw createRunPodApiError({
        method: call.method,
        path: call.path,
        status: response.status,
        title: problem.title,
        detail: problem.detail,
        fieldErrors: problem.errors,
        retryable: isRetryableStatus(response.status),
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      });
    }
    if (call.schema === undefined) {
      await response.body?.cancel();
      return undefined as T;
    }
    const json: unknown = await response.json().catch(() => undefined);
    const parsed = call.schema.safeParse(json);
    if (!parsed.success) {
      throw createRunPodApiError({
        method: call.method,
        path: call.path,
        status: response.status,
        title: "Unexpected response",
        detail: "the answer does not match the REST v2 spec",
        fieldErrors: parsed.error.issues.map((issue) => `$.${issue.path.join(".")}: ${issue.message}`),
        retryable: false,
      });
    }
    return parsed.data;
  }

  async function request<T>(call: CallSpec<T>): Promise<T> {
    for (let attemptNo = 0; ; attemptNo++) {
      try {
        return await attempt(call);
      } catch (error) {
        if (!isRunPodApiError(error) || !error.retryable || attemptNo >= maxRetries) throw error;
        const rateLimited = error.status === 429;
        if (!rateLimited && !call.idempotent) throw error;
        const wait = error.retryAfterMs ?? backoffMs(attemptNo, retryBaseDelayMs, maxRetryAfterMs);
        if (wait > maxRetryAfterMs) throw error;
        await sleep(wait, call.signal);
      }
    }
  }

  const id = (value: string) => encodeURIComponent(value);

  return {
    networkVolumes: {
      list: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/network-volumes", idempotent: true, signal: o.signal,
          schema: objectOf("networkVolumes", networkVolumeSchema) }).then((r) => r.networkVolumes),
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
      list: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/serverless", idempotent: true, signal: o.signal,
          schema: objectOf("endpoints", endpointSchema) }).then((r) => r.endpoints),
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
      workers: (endpointId: string, o: RequestOptions = {}) =>
        request({ method: "GET", path: `/v2/serverless/${id(endpointId)}/workers`, idempotent: true,
          signal: o.signal, schema: workersSchema() }),
    },
    pods: {
      list: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/pods", idempotent: true, signal: o.signal,
          schema: objectOf("pods", podSchema) }).then((r) => r.pods),
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
      datacenters: (o: RequestOptions = {}) =>
        request({ method: "GET", path: "/v2/catalog/datacenters", idempotent: true, signal: o.signal,
          schema: objectOf("dataCenters", dataCenterSchema) }).then((r) => r.dataCenters),
    },
  };
}

export type RunPodRestClient = ReturnType<typeof createRunPodRestClient>;

/** `{ [key]: Item[] }`, the shape of every list answer. */
function objectOf<K extends string, S extends z.ZodTypeAny>(key: K, item: () => S) {
  return z.object({ [key]: z.array(item()) } as { [P in K]: z.ZodArray<S> }).passthrough();
}
