// Reads the signed session cookie; routes that need a user call requireUser.
import type { FastifyRequest } from "fastify";
import type { AppContext } from "./context";
import { HttpError } from "./context";
import { parseCookies } from "./cookies";
import { SESSION_COOKIE, verifySession } from "./auth/sessions";

export function currentUser(ctx: AppContext, request: FastifyRequest): string | undefined {
  const token = parseCookies(request.headers.cookie)[SESSION_COOKIE];
  return verifySession(token, ctx.env.SESSION_SECRET, Math.floor(ctx.now().getTime() / 1000))?.username;
}

export function requireUser(ctx: AppContext, request: FastifyRequest): string {
  const user = currentUser(ctx, request);
  if (!user) throw new HttpError(401, "Please log in.");
  return user;
}
