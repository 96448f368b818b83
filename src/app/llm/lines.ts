// Line framing for Ollama's NDJSON stream. (SSE is read by src/common/sse.ts, on eventsource-parser.)

/** Splits a byte stream into UTF-8 lines (without the line break); a last partial line is yielded too. */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of chunksOf(body)) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer.length > 0) yield buffer.replace(/\r$/, "");
}

/** One JSON value per non-empty line. */
export async function* parseNdjson(lines: AsyncIterable<string>): AsyncGenerator<unknown> {
  for await (const line of lines) {
    if (line.trim() === "") continue;
    yield JSON.parse(line);
  }
}

/** Reads a web stream; releasing it on early exit cancels the HTTP body (and so the generation upstream). */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
