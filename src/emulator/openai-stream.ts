// Relays one OpenAI-route job's streamed chunks to its HTTP client as server-sent events, as RunPod
// does: the chunks the worker yields (chat.completion.chunk objects) each as one `data:` line, then
// `[DONE]`. Headers go out with the first chunk, so a job that fails before streaming anything (bad
// input) still answers with a plain HTTP error status. The reader leaving cancels the job; RunPod's
// stream cut (`cutMs`) drops the connection without `[DONE]` and leaves the job running.
import type { ServerResponse } from "node:http";
import { isFinal, type Job, type JobStore } from "./job-store";
import { jobFailure, openaiError } from "./openai-errors";

/** Longest one wait for the next chunk lasts; only a bound, the wait ends on any chunk or final state. */
const WAKE_MS = 30_000;

export class SseJobRelay {
  private started = false;
  private clientGone = false;
  private closing = false;
  private cut = false;
  private readonly wake = new AbortController();

  constructor(
    private readonly store: JobStore,
    private readonly job: Job,
    private readonly res: ServerResponse,
  ) {}

  /** Relays until the job ends, the client leaves, the emulator closes or the cut comes. The reply must be hijacked. */
  async run(cutMs: number | undefined): Promise<void> {
    const onClose = (): void => {
      if (!this.res.writableEnded) this.clientGone = true;
      this.wake.abort();
    };
    const onClosing = (): void => {
      this.closing = true;
      this.wake.abort();
    };
    this.res.once("close", onClose);
    this.store.once("closing", onClosing);
    const cutTimer = cutMs === undefined ? undefined : setTimeout(() => {
      this.cut = true;
      this.wake.abort();
    }, cutMs);
    cutTimer?.unref();
    try {
      await this.pump();
    } finally {
      if (cutTimer) clearTimeout(cutTimer);
      this.res.off("close", onClose);
      this.store.off("closing", onClosing);
    }
  }

  private async pump(): Promise<void> {
    let cursor = 0;
    for (;;) {
      const current = await this.store.waitFor(this.job.id, (j) => j.stream.length > cursor || isFinal(j.status), WAKE_MS, this.wake.signal);
      if (this.clientGone) {
        // The reader left: the job must not run on unread, as the platform cancels it too.
        this.store.cancel(this.job.id);
        return;
      }
      if (this.cut) {
        this.res.destroy();
        return;
      }
      if (!current) return this.fail(500, openaiError(`job ${this.job.id} expired while streaming`, "server_error", "job_expired"));
      for (; cursor < current.stream.length; cursor++) this.send(current.stream[cursor]);
      if (isFinal(current.status)) return this.finish(current);
      if (this.closing) {
        // The emulator is shutting down: end the response so close() is not held by it.
        this.store.cancel(this.job.id);
        return this.fail(503, openaiError("the emulator is shutting down", "server_error", "shutting_down"), false);
      }
    }
  }

  private finish(job: Job): void {
    if (job.status === "COMPLETED") {
      this.send("[DONE]");
      this.res.end();
      return;
    }
    const { status, body } = jobFailure(job);
    this.fail(status, body);
  }

  /**
   * Before the first chunk: a plain HTTP error. Mid-stream the status line is gone: the error goes as an
   * event, then the end marker, as vLLM's server does (unless `withEvent` is false: then the stream just ends).
   */
  private fail(status: number, body: unknown, withEvent = true): void {
    if (!this.started) {
      this.res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      this.res.end(JSON.stringify(body));
      return;
    }
    if (withEvent) {
      this.send(body);
      this.send("[DONE]");
    }
    this.res.end();
  }

  private send(data: unknown): void {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    }
    this.res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  }
}
