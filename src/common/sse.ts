// The one server-sent-events reader, on eventsource-parser (the parser vercel/ai uses): the providers,
// the tests and (through its browser build, served by the web server) the chat page all read SSE here.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { textChunks } from "./text-stream";

export type { EventSourceMessage };

/**
 * Yields each event of an SSE byte stream as it completes. A last event without its blank line is
 * incomplete (the stream was cut): the spec drops it, and so do we. Stopping early cancels the body.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  for await (const text of textChunks(body)) {
    parser.feed(text);
    yield* pending.splice(0);
  }
}
