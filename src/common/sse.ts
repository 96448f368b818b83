// The one server-sent-events reader, on eventsource-parser (the parser vercel/ai uses): the providers,
// the tests and (through its browser build, served by the web server) the chat page all read SSE here.
import { createParser, type EventSourceMessage } from "eventsource-parser";

export type { EventSourceMessage };

/**
 * Yields each event of an SSE byte stream as it completes. Stopping early (break, return, throw)
 * cancels the body, and so the request upstream.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        parser.feed(decoder.decode());
        // A last event without its blank line is incomplete: the spec drops it, and so do we.
        yield* pending.splice(0);
        return;
      }
      parser.feed(decoder.decode(next.value, { stream: true }));
      yield* pending.splice(0);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
