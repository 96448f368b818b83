// Line framing for Ollama's NDJSON stream. (SSE is read by src/common/sse.ts, on eventsource-parser.)
import { bodyExcerpt } from "../../common/redact";
import { textChunks } from "../../common/text-stream";
import { LLMResponseError } from "./errors";

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

/** One JSON value per non-empty line; a line that is not JSON is quoted redacted and bounded. */
export async function* parseNdjson(lines: AsyncIterable<string>): AsyncGenerator<unknown> {
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new LLMResponseError(`a streamed line is not JSON: ${bodyExcerpt(line, [], 200)}`);
    }
    yield value;
  }
}
