// POST /api/login, POST /api/logout, POST /api/logout-everywhere, GET /api/session.
// Login limits: per client address (@fastify/rate-limit; the address is the socket's, or comes
// from X-Forwarded-For only through the configured number of proxy hops), per username from any
// address, and a cap on password hashes running at once (PasswordGate).
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { authenticate, revokeAllSessions, revokeSession } from "../auth/accounts";
import { PasswordsBusyError } from "../auth/passwords";
import { SESSION_TTL_SECONDS, sessionCookieName, signSession } from "../auth/sessions";
import { HttpError, type AppContext } from "../context";
import { sessionCookieOptions } from "../cookies";
import { currentUser, isSecureDeployment, requireUser } from "../session-guard";
import { validateUsername } from "../../paths";

const loginSchema = z.object({ username: z.string().max(64), password: z.string().max(1024) }).strict();

const ACCOUNT_WINDOW_MS = 15 * 60 * 1000;

export const authRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const secure = isSecureDeployment(ctx);
  const cookieName = sessionCookieName(secure);
  const clearCookie = (reply: FastifyReply) => reply.setCookie(cookieName, "", { ...sessionCookieOptions(secure, 0), expires: new Date(0) });

  // Per username, whatever the address: guesses spread over many addresses still stop.
  const accountLimit = app.createRateLimit({
    max: ctx.env.LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES,
    timeWindow: ACCOUNT_WINDOW_MS,
    keyGenerator: (request) => `login-account:${String((request.body as { username?: unknown } | undefined)?.username ?? "").toLowerCase()}`,
  });

  app.post(
    "/api/login",
    {
      config: {
        rateLimit: {
          max: ctx.env.LOGIN_RATE_LIMIT_PER_MINUTE,
          timeWindow: 60_000,
          keyGenerator: (request) => `login-ip:${request.ip}`,
          errorResponseBuilder: (_request, context) =>
            new HttpError(429, "Too many login attempts. Please wait a minute.", { "retry-after": String(Math.ceil(context.ttl / 1000)) }),
        },
      },
    },
    async (request, reply) => {
      const body = loginSchema.safeParse(request.body);
      if (!body.success) throw new HttpError(400, "Send JSON with a username and a password.");
      const limit = await accountLimit(request);
      if (!limit.isAllowed && limit.isExceeded) {
        throw new HttpError(429, "Too many login attempts for this account. Please wait a few minutes.", { "retry-after": String(limit.ttlInSeconds) });
      }
      let account;
      try {
        validateUsername(body.data.username);
        account = await ctx.passwordGate.run(() => authenticate(ctx.paths, body.data.username, body.data.password));
      } catch (err) {
        if (err instanceof PasswordsBusyError) throw new HttpError(429, "Too many logins at once. Please try again in a moment.", { "retry-after": "1" });
        account = undefined;
      }
      if (!account) throw new HttpError(401, "Wrong username or password.");
      const token = signSession(account.username, ctx.env.SESSION_SECRET, Math.floor(ctx.now().getTime() / 1000), { version: account.sessionVersion });
      reply.setCookie(cookieName, token, sessionCookieOptions(secure, SESSION_TTL_SECONDS));
      return { username: account.username };
    },
  );

  // Ends this session: the cookie is cleared here, and its id is revoked, so a copy of it stops working too.
  app.post("/api/logout", async (request, reply) => {
    if (request.metahumanSession) await revokeSession(ctx.paths, request.metahumanSession, ctx.now());
    clearCookie(reply);
    return { ok: true };
  });

  // Ends every session of the user, on every device.
  app.post("/api/logout-everywhere", async (request, reply) => {
    const username = requireUser(ctx, request);
    await revokeAllSessions(ctx.paths, username, ctx.now());
    clearCookie(reply);
    return { ok: true };
  });

  app.get("/api/session", async (request) => {
    const username = currentUser(ctx, request);
    if (!username) throw new HttpError(401, "Please log in.");
    return { username };
  });
};
