// Graceful shutdown for chats: on SIGTERM the server stops taking chats (503 in words), lets the open
// ones go on for a short grace, then aborts them, which cancels their RunPod jobs (the job client
// cancels whenever its signal aborts), and waits until each chat has finished its cancel and its record.

/** Why a chat was stopped by the shutdown (the route tells the client in words). */
export class ShutdownAbort extends Error {
  constructor() {
    super("the web server is shutting down");
    this.name = "ShutdownAbort";
  }
}

interface OpenChat {
  controller: AbortController;
  finished: Promise<void>;
}

export class OpenChats {
  private readonly open = new Set<OpenChat>();
  private drainingSince: number | undefined;

  /** True once a drain has begun: the chat route refuses new chats. */
  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Registers a chat; its signal aborts (with a ShutdownAbort reason) when the grace runs out.
   * Call done() when the chat has finished everything it does, records included.
   */
  begin(): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const chat: OpenChat = { controller, finished };
    this.open.add(chat);
    return {
      signal: controller.signal,
      done: () => {
        this.open.delete(chat);
        done();
      },
    };
  }

  /**
   * Stops taking chats, waits up to graceMs for open ones to finish, aborts the rest and waits for
   * them to wind down (their job cancels), at most cancelWaitMs more. Resolves with what happened.
   * The default keeps a 5 s grace and the cancels under Docker's 10 s between SIGTERM and SIGKILL.
   */
  async drain(graceMs: number, cancelWaitMs = 4_000): Promise<{ finishedInGrace: number; cancelled: number }> {
    this.drainingSince ??= Date.now();
    const atStart = [...this.open];
    const all = () => Promise.all([...this.open].map((c) => c.finished));
    await raceTimeout(all(), graceMs);
    const left = [...this.open];
    for (const chat of left) chat.controller.abort(new ShutdownAbort());
    await raceTimeout(all(), cancelWaitMs);
    return { finishedInGrace: atStart.length - left.length, cancelled: left.length };
  }
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
