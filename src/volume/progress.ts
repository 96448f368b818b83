// A progress bar on stderr: bytes done of the total, rate, ETA and the file at hand. On a terminal it redraws
// one line; otherwise (CI, a log file) it prints a line at most every few seconds, and always the last one.
export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class Progress {
  private done = 0;
  private current = "";
  private readonly started: number;
  private lastPrint = 0;

  constructor(
    private readonly total: number,
    private readonly sink: ProgressSink = process.stderr,
    private readonly now: () => number = Date.now,
    private readonly everyMs = 2000,
  ) {
    this.started = now();
  }

  file(name: string): void {
    this.current = name;
    this.render(false);
  }

  add(bytes: number): void {
    this.done += bytes;
    this.render(false);
  }

  /** Bytes per second so far. */
  rate(): number {
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? this.done / seconds : 0;
  }

  line(): string {
    const ratio = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(ratio * width);
    const rate = this.rate();
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(this.done)} / ${formatBytes(this.total)}  ${formatBytes(rate)}/s  ETA ${ratio >= 1 ? "0s" : formatDuration(eta)}` +
      (this.current ? `  ${this.current}` : "");
  }

  finish(): void {
    this.render(true);
    if (this.sink.isTTY) this.sink.write("\n");
  }

  private render(force: boolean): void {
    const t = this.now();
    if (this.sink.isTTY) {
      if (!force && t - this.lastPrint < 100) return;
      this.lastPrint = t;
      this.sink.write(`\r\u001b[2K${this.line()}`);
      return;
    }
    if (!force && t - this.lastPrint < this.everyMs) return;
    this.lastPrint = t;
    this.sink.write(`${this.line()}\n`);
  }
}
