// The LLM calls the gateway is serving now, so that a stop MetaHuman OS does not pass on can still reach them:
// MetaHuman OS never aborts its provider call (its "stop" is a flag its graph reads at the next step), but the front
// door sees the person's stop (POST /api/cancel-chat) and aborts every call in flight, which cancels their RunPod jobs.
export class InFlightCalls {
  private readonly calls = new Map<number, AbortController>();
  private next = 0;

  /** Registers one call; the returned function removes it when the call ends. */
  add(controller: AbortController): () => void {
    const id = this.next++;
    this.calls.set(id, controller);
    return () => void this.calls.delete(id);
  }

  get size(): number {
    return this.calls.size;
  }

  /** Aborts every call in flight with the reason; returns how many were stopped. */
  abortAll(reason: string): number {
    const stopped = this.calls.size;
    for (const controller of this.calls.values()) controller.abort(new Error(reason));
    this.calls.clear();
    return stopped;
  }
}
