// RunPod's billing API (REST v2, GET /v2/billing/{serverless,pods,network-volumes,endpoints}): what was actually
// spent over a window, as totals per family. Used by the cost CLI (`--actual`) and by the web pod's admin spend view.
// The key travels only in the Authorization header and never appears in an error message.
import { z } from "zod";

const amount = z.number();
const window = z.object({ startTime: z.string(), endTime: z.string() });
const metadata = <T extends z.ZodRawShape>(totals: T) =>
  z.object({ query: window.passthrough(), recordCount: z.number().int(), totals: z.object(totals).passthrough() }).passthrough();

export const serverlessBillingSchema = z.object({
  records: z.array(window.extend({ serverlessId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, gpuAmount: amount, cpuAmount: amount, diskAmount: amount, feeAmount: amount }),
});
export const podBillingSchema = z.object({
  records: z.array(window.extend({ podId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, gpuAmount: amount, cpuAmount: amount, diskAmount: amount }),
});
export const networkVolumeBillingSchema = z.object({
  records: z.array(window.extend({ networkVolumeId: z.string(), totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount, standardAmount: amount, highPerformanceAmount: amount }),
});
/** RunPod's public (RunPod-hosted) endpoints: not the stack's own serverless endpoint, usually nothing. */
export const endpointBillingSchema = z.object({
  records: z.array(window.extend({ totalAmount: amount }).passthrough()),
  metadata: metadata({ totalAmount: amount }),
});

export type BillingFamily = "serverless" | "pods" | "network-volumes" | "endpoints";

export interface BillingRequest {
  apiKey: string;
  /** REST v2 base without /v2 (https://api.runpod.io, or the emulator's). */
  baseURL: string;
  fetch?: typeof fetch;
  /** `{startTime, endTime}` (ISO 8601) or `{lastN}` buckets; bucketSize defaults to day. */
  window: { startTime: string; endTime: string } | { lastN: number };
  bucketSize?: "hour" | "day" | "week" | "month" | "year";
  /** Only these resources: serverlessId, podId, networkVolumeId. */
  filter?: { serverlessId?: string; podId?: string; networkVolumeId?: string };
  timeoutMs?: number;
}

const SCHEMAS = {
  serverless: { schema: serverlessBillingSchema, filterKey: "serverlessId" },
  pods: { schema: podBillingSchema, filterKey: "podId" },
  "network-volumes": { schema: networkVolumeBillingSchema, filterKey: "networkVolumeId" },
  endpoints: { schema: endpointBillingSchema, filterKey: undefined },
} as const;

/** An answer RunPod's billing API gave that is not a bill; `status` undefined when none came. */
export class BillingReadError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "BillingReadError";
  }
}

/** One family's answer, checked against the spec's shape. */
export async function readBilling<F extends BillingFamily>(family: F, request: BillingRequest): Promise<z.infer<(typeof SCHEMAS)[F]["schema"]>> {
  const { schema, filterKey } = SCHEMAS[family];
  const params = new URLSearchParams({ bucketSize: request.bucketSize ?? "day" });
  if ("lastN" in request.window) params.set("lastN", String(request.window.lastN));
  else { params.set("startTime", request.window.startTime); params.set("endTime", request.window.endTime); }
  const id = filterKey ? request.filter?.[filterKey] : undefined;
  if (filterKey && id) params.set(filterKey, id);
  const url = `${request.baseURL.replace(/\/+$/, "")}/v2/billing/${family}?${params}`;
  let response: Response;
  try {
    response = await (request.fetch ?? fetch)(url, {
      headers: { authorization: `Bearer ${request.apiKey}`, accept: "application/json" },
      signal: AbortSignal.timeout(request.timeoutMs ?? 15_000),
    });
  } catch (error) {
    throw new BillingReadError(`GET ${url} got no answer (${error instanceof Error ? error.name : "error"})`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const detail = (body as { detail?: unknown } | undefined)?.detail;
    const words = typeof detail === "string" ? `: ${detail.replaceAll(request.apiKey, "***")}` : "";
    throw new BillingReadError(`GET ${url} answered HTTP ${response.status}${words}`, response.status);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BillingReadError(`GET ${url} returned an unexpected body: ${issue?.path.join(".")}: ${issue?.message}`, response.status);
  }
  return parsed.data as z.infer<(typeof SCHEMAS)[F]["schema"]>;
}
