// Cross-site request refusal (CSRF): the session cookie is SameSite=Lax, but a "same site" page
// (another pod under *.proxy.runpod.net, which is not on the public suffix list) or an old browser
// could still send it with a POST, so state-changing requests are checked here as well.
import type { FastifyRequest } from "fastify";
import { HttpError } from "./context";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Refuses what a browser sends on another site's behalf: a state-changing request whose
 * Sec-Fetch-Site is not same-origin (nor none: typed by the person), or whose Origin is not this
 * host, or whose body is not JSON (forms and text/plain are the requests a page may send
 * cross-site without asking; JSON needs a preflight, which this server never grants).
 * Clients that are not browsers send neither header and are not affected.
 */
export function refuseCrossSite(request: FastifyRequest, requireJson = true): void {
  if (SAFE_METHODS.has(request.method)) return;
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") throw new HttpError(403, "Cross-site requests are refused.");
  const origin = request.headers.origin;
  // A browser that says same-origin vouches for the origin itself (a proxy may rewrite Host).
  if (origin !== undefined && site === undefined) {
    let host: string | undefined;
    try {
      host = origin === "null" ? undefined : new URL(origin).host.toLowerCase();
    } catch {
      host = undefined;
    }
    if (!host || host !== (request.host ?? "").toLowerCase()) throw new HttpError(403, "Cross-site requests are refused.");
  }
  // MetaHuman OS's own routes take forms and uploads; the site and origin checks above still hold for them.
  if (!requireJson) return;
  const type = request.headers["content-type"];
  const hasBody = Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined;
  const json = typeof type === "string" && /^application\/json\s*(;|$)/i.test(type.trim());
  if (type !== undefined ? !json : hasBody) throw new HttpError(415, "Send the request as application/json.");
}
