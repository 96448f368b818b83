// Reading an HTTP body (a web ReadableStream) as text, piece by piece: the one loop under the SSE
// reader and the NDJSON line reader.

/**
 * Yields the body's text as it arrives, decoded as UTF-8 (a character cut between chunks is kept
 * whole). Stopping early (break, return, throw) cancels the body, and so the request upstream.
 */
export async function* textChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        const rest = decoder.decode();
        if (rest) yield rest;
        return;
      }
      yield decoder.decode(next.value, { stream: true });
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
