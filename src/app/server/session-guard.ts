// Who is asking: the session cookie, resolved once per request by a hook (signature, format,
// expiry, then the account file: it must exist, with the same session version, and must not
// have revoked this session). Routes read the result synchronously with currentUser/requireUser.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { VolumeError } from "../paths";
import { sessionIsCurrent } from "./auth/accounts";
import { sessionCookieName, verifySession, type Session } from "./auth/sessions";
import type { AppContext } from "./context";
import { HttpError } from "./context";
import { cookieValues } from "./cookies";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified, current session of this request (set by the session hook). */
    metahumanSession: Session | undefined;
    /** Set when the session could not be checked because the volume is unavailable. */
    metahumanSessionProblem: VolumeError | undefined;
  }
}

/** Whether this deployment serves over HTTPS (and so uses Secure, `__Host-` cookies). */
export const isSecureDeployment = (ctx: AppContext) => ctx.env.NODE_ENV === "production";

/**
 * The request's session. Every value of the cookie name is tried: junk planted beside a good
 * cookie is ignored (it cannot lock the person out), and good sessions of two different users
 * at once count as none (a planted session of someone else's cannot win).
 */
export async function resolveSession(ctx: AppContext, request: FastifyRequest): Promise<Session | undefined> {
  const tokens = cookieValues(request.headers.cookie, sessionCookieName(isSecureDeployment(ctx)));
  if (tokens.length === 0) return undefined;
  const nowSeconds = Math.floor(ctx.now().getTime() / 1000);
  const verified = tokens.map((t) => verifySession(t, ctx.env.SESSION_SECRET, nowSeconds)).filter((s): s is Session => s !== undefined);
  if (verified.length === 0) return undefined;
  const current: Session[] = [];
  for (const session of verified) if (await sessionIsCurrent(ctx.paths, session)) current.push(session);
  if (current.length === 0) {
    const problem = await ctx.paths.checkVolume();
    if (problem) throw new VolumeError(problem, "EVOLUME");
    return undefined;
  }
  if (new Set(current.map((s) => s.username)).size !== 1) return undefined;
  return current.sort((a, b) => b.issuedAt - a.issuedAt)[0];
}

/** Adds the hook that resolves every request's session before its handler runs. */
export function registerSessionGuard(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest("metahumanSession", undefined);
  app.decorateRequest("metahumanSessionProblem", undefined);
  app.addHook("onRequest", async (request) => {
    try {
      request.metahumanSession = await resolveSession(ctx, request);
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      request.metahumanSessionProblem = err;
    }
  });
}

export function currentUser(_ctx: AppContext, request: FastifyRequest): string | undefined {
  return request.metahumanSession?.username;
}

export function requireUser(ctx: AppContext, request: FastifyRequest): string {
  if (request.metahumanSessionProblem) throw request.metahumanSessionProblem;
  const user = currentUser(ctx, request);
  if (!user) throw new HttpError(401, "Please log in.");
  return user;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Monitoring access (/metrics, health details): `Authorization: Bearer <MONITORING_TOKEN>`, or
 * the session of a user listed in ADMIN_USERS.
 */
export function isMonitor(ctx: AppContext, request: FastifyRequest): boolean {
  const token = ctx.env.MONITORING_TOKEN;
  const header = request.headers.authorization;
  if (token && typeof header === "string" && header.startsWith("Bearer ")) {
    if (timingSafeEqual(digest(header.slice(7).trim()), digest(token))) return true;
  }
  const user = request.metahumanSession?.username;
  return user !== undefined && ctx.env.ADMIN_USERS.includes(user);
}
