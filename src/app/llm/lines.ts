// Line framing for Ollama's NDJSON stream. (SSE is read by src/common/sse.ts, on eventsource-parser.)
import { textChunks } from "../../common/text-stream";

/** Splits a byte stream into UTF-8 lines (without the line break); a last partial line is yielded too. */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of textChunks(body)) {
    buffer += text;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer.length > 0) yield buffer.replace(/\r$/, "");
}

/** One JSON value per non-empty line. */
export async function* parseNdjson(lines: AsyncIterable<string>): AsyncGenerator<unknown> {
  for await (const line of lines) {
    if (line.trim() === "") continue;
    yield JSON.parse(line);
  }
}
