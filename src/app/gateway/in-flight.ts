// The LLM calls the gateway is serving now, and the chats the door is passing to MetaHuman OS, so that a stop
// MetaHuman OS does not pass on still reaches the GPU. MetaHuman OS never aborts its provider call (its "stop" is a
// flag its graph reads at the next step) and goes on to its next call when one fails. So when the person stops a
// chat (POST /api/cancel-chat, or the page dropping its chat request) the door aborts every call in flight, which
// cancels their RunPod jobs, and the gateway refuses new calls until the chats that were open have ended and a short
// grace has passed: the rest of a stopped chat's jobs are never submitted.
export class InFlightCalls {
  private readonly calls = new Map<number, AbortController>();
  private next = 0;
  private openChats = 0;
  private stoppedChats = 0;
  private refuseUntil = 0;

  constructor(private readonly graceMs = 2_000, private readonly now: () => number = Date.now) {}

  /** Registers one call; the returned function removes it when the call ends. */
  add(controller: AbortController): () => void {
    const id = this.next++;
    this.calls.set(id, controller);
    return () => void this.calls.delete(id);
  }

  get size(): number {
    return this.calls.size;
  }

  /** A chat request went to MetaHuman OS; the returned function is called when it ends (answered or dropped). */
  chatOpened(): () => void {
    this.openChats++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.openChats--;
      if (this.stoppedChats > 0) {
        this.stoppedChats--;
        if (this.stoppedChats === 0) this.refuseUntil = this.now() + this.graceMs;
      }
    };
  }

  /** The person stopped: abort what runs, and refuse new calls while the stopped chats go on. Returns calls aborted. */
  stop(reason: string): number {
    this.stoppedChats = this.openChats;
    this.refuseUntil = this.now() + this.graceMs;
    return this.abortAll(reason);
  }

  /** Whether a new call belongs to a chat the person stopped. */
  get refusing(): boolean {
    return this.stoppedChats > 0 || this.now() < this.refuseUntil;
  }

  /** Aborts every call in flight with the reason; returns how many were stopped. */
  abortAll(reason: string): number {
    const stopped = this.calls.size;
    for (const controller of this.calls.values()) controller.abort(new Error(reason));
    this.calls.clear();
    return stopped;
  }
}
