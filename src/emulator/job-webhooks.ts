// RunPod's job webhooks: a job submitted with `webhook` has its final status body (what /status answers)
// POSTed to that URL once it is final; an answer other than 2xx is retried twice, 10 s apart.
// The emulator calls only the origins it was started with (JobSystemOptions.webhookOrigins: loopback ones, each
// given by whoever started it); the job API refuses any other webhook by name. Not "any loopback address": a job
// submitted by anyone holding the key must not make the emulator POST to another local service.
import { isFinal, statusBody, type Job, type JobStore } from "./job-store";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const ATTEMPTS = 3;
const TIMEOUT_MS = 10_000;

/** Why the emulator will not call this webhook URL, or undefined when its origin is one it was given. */
export function webhookRefusal(url: string, origins: readonly string[]): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url.slice(0, 200))} is not a URL`;
  }
  const allowed = origins.length > 0
    ? `the origins it was started with: ${origins.join(", ")}`
    : "the origins it was started with, and none were given (webhookOrigins, EMULATOR_WEBHOOK_ORIGINS)";
  if (!origins.includes(parsed.origin)) return `${JSON.stringify(url.slice(0, 200))} is not allowed; the emulator calls webhooks only at ${allowed}`;
  return undefined;
}

/** A webhook origin the emulator may be given: http(s) on this machine's loopback, nothing else. */
export function checkWebhookOrigin(origin: string): string {
  const parsed = new URL(origin);
  if (!(parsed.protocol === "http:" || parsed.protocol === "https:") || !LOOPBACK_HOSTS.has(parsed.hostname) || parsed.origin !== origin) {
    throw new Error(`webhook origin ${JSON.stringify(origin)} is not allowed; expected http(s)://127.0.0.1|localhost|[::1]:PORT with no path`);
  }
  return origin;
}

export function deliverWebhooks(store: JobStore, options: { retryDelayMs?: number } = {}): void {
  const retryDelayMs = options.retryDelayMs ?? 10_000;
  // A job is final once (a retried job gets a new final state, and a new delivery).
  const delivered = new WeakMap<Job, string>();
  store.on("change", (job: Job) => {
    if (job.webhook === undefined || !isFinal(job.status)) return;
    const state = `${job.retries} ${job.status}`;
    if (delivered.get(job) === state) return;
    delivered.set(job, state);
    void post(job.webhook, JSON.stringify(statusBody(job, store.now())), retryDelayMs);
  });
}

async function post(url: string, body: string, retryDelayMs: number): Promise<void> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Refused, reset or timed out: retried like a non-2xx answer.
    }
    if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, retryDelayMs).unref());
  }
}
