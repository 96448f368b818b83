// A fixed-window counter per key (user, or IP for logins), in memory. Per pod: with N
// web pods a user gets at most N times the limit, which is fine for a personal app.

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one hit; returns undefined when allowed, else the milliseconds until the window resets. */
  hit(key: string): number | undefined {
    const t = this.now();
    if (this.windows.size > 10_000) this.prune(t);
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= this.limit) return w.start + this.windowMs - t;
    w.count++;
    return undefined;
  }

  /** Gives back one hit counted in the current window (an attempt that turned out not to count). */
  refund(key: string): void {
    const w = this.windows.get(key);
    if (w && this.now() - w.start < this.windowMs && w.count > 0) w.count--;
  }

  private prune(t: number): void {
    for (const [key, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(key);
  }
}
