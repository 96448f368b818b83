// The one SSE reader (eventsource-parser underneath) on byte streams cut at awkward places.
import { describe, expect, it } from "vitest";
import { readSseEvents } from "../../src/common/sse";

function streamOf(chunks: (string | Uint8Array)[], onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    },
    cancel: () => onCancel?.(),
  });
}

async function all(body: ReadableStream<Uint8Array>) {
  const out = [];
  for await (const event of readSseEvents(body)) out.push({ event: event.event, data: event.data, id: event.id });
  return out;
}

describe("readSseEvents", () => {
  it("reads named events, multi-line data, ids and comments, split across chunks", async () => {
    const text = ": keep-alive\n\nevent: delta\ndata: {\"text\":\"a\"}\n\nid: 7\ndata: line one\ndata: line two\n\nevent: done\ndata: {}\n\n";
    const chunks = text.match(/[\s\S]{1,5}/g)!;
    expect(await all(streamOf(chunks))).toEqual([
      { event: "delta", data: '{"text":"a"}', id: undefined },
      { event: undefined, data: "line one\nline two", id: "7" },
      { event: "done", data: "{}", id: undefined },
    ]);
  });

  it("handles CRLF and a multi-byte character cut between chunks", async () => {
    const bytes = new TextEncoder().encode("data: caf\u00e9 \u2603\r\n\r\n");
    const cut = bytes.indexOf(0xc3) + 1;
    expect(await all(streamOf([bytes.slice(0, cut), bytes.slice(cut)]))).toEqual([{ event: undefined, data: "caf\u00e9 \u2603", id: undefined }]);
  });

  it("drops a last event that never got its blank line (the stream was cut)", async () => {
    expect(await all(streamOf(["data: whole\n\n", "data: cut off"]))).toEqual([{ event: undefined, data: "whole", id: undefined }]);
  });

  it("stopping early cancels the body", async () => {
    let cancelled = false;
    const body = streamOf(["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"], () => (cancelled = true));
    for await (const event of readSseEvents(body)) if (event.data === "1") break;
    expect(cancelled).toBe(true);
  });
});
