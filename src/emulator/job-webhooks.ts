// RunPod's job webhooks: a job submitted with `webhook` has its final status body (what /status answers)
// POSTed to that URL once it is final; an answer other than 2xx is retried twice, 10 s apart.
// The emulator calls loopback URLs only: the job API refuses any other webhook.
import { isFinal, statusBody, type Job, type JobStore } from "./job-store";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const ATTEMPTS = 3;
const TIMEOUT_MS = 10_000;

/** Whether a webhook URL is http(s) on this machine's loopback. */
export function loopbackWebhook(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && LOOPBACK_HOSTS.has(parsed.hostname);
  } catch {
    return false;
  }
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
