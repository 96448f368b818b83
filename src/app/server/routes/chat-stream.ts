// The chat route's server-sent-events writer: takes over the raw response, writes one event per call,
// keeps idle proxies from dropping the connection, and turns the client leaving into an abort.
import type { FastifyReply, FastifyRequest } from "fastify";

/** Proxies (RunPod's included) drop idle connections; a cold start can be silent for minutes. */
export const HEARTBEAT_MS = 15_000;

export interface ClientPresence {
  /** Aborts as soon as the client goes away. */
  readonly signal: AbortSignal;
  stop(): void;
}

/**
 * Watches the connection from the moment the request arrives (before any disk or model work), so a
 * client that leaves early still aborts the generation and with it the RunPod job.
 */
export function watchClient(request: FastifyRequest, reply: FastifyReply): ClientPresence {
  const controller = new AbortController();
  const raw = reply.raw;
  const gone = () => {
    if (!raw.writableFinished) controller.abort(new DOMException("client went away", "AbortError"));
  };
  // The response emits "close" when the socket closes, answered or not; the socket may already be
  // closed when the handler starts, and then no "close" is coming.
  raw.on("close", gone);
  if (raw.destroyed || request.raw.socket?.destroyed) gone();
  return { signal: controller.signal, stop: () => raw.off("close", gone) };
}

export interface SseWriter {
  send(event: string, data: unknown): void;
  /** Stops the heartbeat and ends the response. */
  end(): void;
}

/** Takes over the response and writes `event: …\ndata: <json>\n\n` blocks. */
export function openSse(reply: FastifyReply, heartbeatMs: number = HEARTBEAT_MS): SseWriter {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const writable = () => !raw.destroyed && !raw.writableEnded;
  const heartbeat = setInterval(() => writable() && raw.write(": keep-alive\n\n"), heartbeatMs);
  return {
    send(event, data) {
      if (writable()) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      if (writable()) raw.end();
    },
  };
}
