// The emulator's own routes under /_emulator/ (test controls and inspection) answer only requests addressed to
// loopback by name: a web page the developer opens could otherwise reach them through DNS rebinding (its own host
// name resolving to 127.0.0.1, its Host header still its own). The three that return what others sent or hold
// (/_emulator/state: the pods' env, session secret and API key included; /_emulator/requests: recorded bodies;
// /_emulator/jobs: every job's input, a person's chats) also need the emulator's key, as RunPod's own API does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);
const KEYED = new Set(["/_emulator/state", "/_emulator/requests", "/_emulator/jobs"]);

/** The host name of a Host header ("127.0.0.1:8787" → "127.0.0.1", "[::1]:80" → "[::1]"), or undefined. */
function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::\d{1,5})?$/.exec(header.trim());
  return match?.[1]?.toLowerCase();
}

function refuse(reply: FastifyReply, status: number, detail: string) {
  return reply.code(status).type("application/problem+json").send({ title: status === 401 ? "Unauthorized" : "Forbidden", status, detail });
}

export function guardDebugRoutes(app: FastifyInstance, apiKey: string): void {
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] as string;
    if (!path.startsWith("/_emulator/")) return;
    const host = request.headers.host;
    const name = hostName(host);
    if (name === undefined || !LOOPBACK_NAMES.has(name)) {
      return refuse(reply, 403, `Host ${JSON.stringify(host ?? "")} is not allowed for ${path}; the emulator's own routes answer only Host 127.0.0.1, localhost or [::1] (with any port)`);
    }
    if (!KEYED.has(path)) return;
    const header = request.headers.authorization;
    if (header === undefined || !header.startsWith("Bearer ")) return refuse(reply, 401, `${path} needs the emulator's key: Authorization: Bearer <RUNPOD_API_KEY>`);
    if (header.slice("Bearer ".length) !== apiKey) return refuse(reply, 401, `${path}: the bearer token is not the emulator's key`);
  });
}
