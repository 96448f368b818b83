// JSON text for values that came in as JSON, without recursion. A job's input is whatever a client sent (up to
// 10 MB): JSON.parse takes any depth, but JSON.stringify recurses and throws at a few thousand levels, which broke
// the next job-take and /_emulator/jobs for the rest of the run (issue 18 L8). The emulator hands such input on
// as it came, as RunPod does; refusing it is the worker's job.
export function jsonText(value: unknown): string {
  const out: string[] = [];
  // A work list of values to write and literal text (commas, closers) between them.
  const work: Array<{ value: unknown } | string> = [{ value }];
  while (work.length > 0) {
    const item = work.pop()!;
    if (typeof item === "string") {
      out.push(item);
      continue;
    }
    const v = item.value;
    if (Array.isArray(v)) {
      out.push("[");
      work.push("]");
      for (let i = v.length - 1; i >= 0; i--) {
        // JSON.stringify writes null for holes and undefined in arrays.
        work.push({ value: v[i] === undefined ? null : v[i] });
        if (i > 0) work.push(",");
      }
    } else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined && typeof x !== "function");
      out.push("{");
      work.push("}");
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, x] = entries[i]!;
        work.push({ value: x });
        work.push(`${JSON.stringify(key)}:`);
        if (i > 0) work.push(",");
      }
    } else {
      out.push(JSON.stringify(v) ?? "null");
    }
  }
  return out.join("");
}
