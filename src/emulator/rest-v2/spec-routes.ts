// The rest of the spec's surface, so that every path RunPod declares answers as RunPod would, after the
// key is checked: an operation the emulator does not emulate answers problem+json 501 naming it; a
// method the path does not declare (TRACE, QUERY, PUT on /v2/pods...) answers 405 with `Allow`; OPTIONS
// answers 204 with `Allow`. Registered after the resource plugins: what they serve is left alone.
import type { FastifyInstance, HTTPMethods } from "fastify";
import { HTTP_METHODS, specOperations, toRouteUrl } from "../spec/runpod-spec";
import { problem } from "./context";

/** Adds the spec's remaining routes to `api`; returns the operations answered with 501. */
export function addSpecRoutes(api: FastifyInstance): string[] {
  const operations = specOperations();
  const notEmulated: string[] = [];
  const declaredByPath = new Map<string, Set<string>>();
  for (const operation of operations) {
    const url = toRouteUrl(operation.path);
    const method = operation.method.toUpperCase();
    const declared = declaredByPath.get(url) ?? new Set<string>();
    declared.add(method);
    declaredByPath.set(url, declared);
    if (api.hasRoute({ url, method })) continue;
    notEmulated.push(`${method} ${operation.path}`);
    api.route({
      method: method as HTTPMethods, url,
      handler: async (_request, reply) =>
        problem(reply, 501, `${method} ${operation.path} (${operation.operationId}) is in RunPod's REST v2 but not emulated here`),
    });
  }
  for (const [url, declared] of declaredByPath) {
    const allow = [...declared].sort().join(", ");
    for (const method of [...HTTP_METHODS.map((m) => m.toUpperCase()), "QUERY"]) {
      // HEAD of a GET path is answered by Fastify (the GET without its body).
      if (declared.has(method) || (method === "HEAD" && declared.has("GET")) || api.hasRoute({ url, method })) continue;
      api.route({
        method: method as HTTPMethods, url,
        // Answered in onRequest (after the key check), before Fastify reads a body: a QUERY without a
        // Content-Type would otherwise be refused with 400 first.
        onRequest: async (request, reply) => {
          reply.header("allow", allow);
          if (method === "OPTIONS") return reply.code(204).send();
          return problem(reply, 405, `${request.method} is not allowed on ${url}; allowed: ${allow}`);
        },
        handler: async (_request, reply) => reply,
      });
    }
  }
  return notEmulated;
}
