// POST /api/login, POST /api/logout, POST /api/logout-everywhere, GET /api/session.
// Login limits count failed passwords, not requests, so that a flood of wrong passwords costs the one
// who sends it: per client address (the socket's, or from X-Forwarded-For through TRUST_PROXY_HOPS), per
// username from any address, and, for a browser that has logged in to the account before (a known
// device, ./auth/device-cookie.ts), per browser instead of those two. Behind RunPod's proxy strangers may
// share the owner's address; their guesses then close the login to unknown browsers, never to the
// owner's. A cap on password hashes running at once (PasswordGate) holds for everyone.
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { authenticate, revokeAllSessions, revokeSession } from "../auth/accounts";
import { DEVICE_TTL_SECONDS, deviceCookieName, knownDevice, signDevice } from "../auth/device-cookie";
import { PasswordsBusyError } from "../auth/passwords";
import { SESSION_TTL_SECONDS, sessionCookieName, signSession } from "../auth/sessions";
import { HttpError, type AppContext } from "../context";
import { sessionCookieOptions } from "../cookies";
import { RateLimiter } from "../rate-limit";
import { currentUser, isSecureDeployment, requireUser } from "../session-guard";
import { validateUsername } from "../../paths";

const loginSchema = z.object({ username: z.string().max(64), password: z.string().max(1024) }).strict();

const ADDRESS_WINDOW_MS = 60 * 1000;
const ACCOUNT_WINDOW_MS = 15 * 60 * 1000;

export const authRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const secure = isSecureDeployment(ctx);
  const cookieName = sessionCookieName(secure);
  const deviceName = deviceCookieName(secure);
  const clearCookie = (reply: FastifyReply) => reply.setCookie(cookieName, "", { ...sessionCookieOptions(secure, 0), expires: new Date(0) });
  const now = () => ctx.now().getTime();

  // Each counts an attempt before its password is checked (so a burst sent at once is counted whole)
  // and gives it back when the password was right or never checked.
  const perAddress = new RateLimiter(ctx.env.LOGIN_RATE_LIMIT_PER_MINUTE, ADDRESS_WINDOW_MS, now);
  const perAccount = new RateLimiter(ctx.env.LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES, ACCOUNT_WINDOW_MS, now);
  const perDevice = new RateLimiter(ctx.env.LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES, ACCOUNT_WINDOW_MS, now);
  const busyAddress = "Too many login attempts. Please wait a minute.";
  const busyAccount = "Too many login attempts for this account. Please wait a few minutes.";

  app.post("/api/login", async (request, reply) => {
    const body = loginSchema.safeParse(request.body);
    if (!body.success) throw new HttpError(400, "Send JSON with a username and a password.");
    const { username, password } = body.data;
    const nowSeconds = Math.floor(now() / 1000);
    const device = knownDevice(request.headers.cookie, deviceName, username, ctx.env.SESSION_SECRET, nowSeconds);
    const budgets: [RateLimiter, string, string][] = device
      ? [[perDevice, `device:${device.deviceId}`, busyAccount]]
      : [[perAddress, `address:${request.ip}`, busyAddress], [perAccount, `account:${username.toLowerCase()}`, busyAccount]];
    const taken: [RateLimiter, string][] = [];
    const giveBack = () => taken.forEach(([limiter, key]) => limiter.refund(key));
    for (const [limiter, key, message] of budgets) {
      const waitMs = limiter.hit(key);
      if (waitMs !== undefined) {
        giveBack();
        throw new HttpError(429, message, { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) });
      }
      taken.push([limiter, key]);
    }
    let account;
    try {
      validateUsername(username);
      account = await ctx.passwordGate.run(() => authenticate(ctx.paths, username, password));
    } catch (err) {
      if (err instanceof PasswordsBusyError) {
        giveBack(); // no password was tried
        throw new HttpError(429, "Too many logins at once. Please try again in a moment.", { "retry-after": "1" });
      }
      account = undefined;
    }
    if (!account) throw new HttpError(401, "Wrong username or password.");
    giveBack();
    const token = signSession(account.username, ctx.env.SESSION_SECRET, nowSeconds, { version: account.sessionVersion });
    reply.setCookie(cookieName, token, sessionCookieOptions(secure, SESSION_TTL_SECONDS));
    // The same browser keeps its id (and its budget) across logins; a new one gets a new id.
    reply.setCookie(deviceName, signDevice(account.username, ctx.env.SESSION_SECRET, nowSeconds, device?.deviceId), {
      ...sessionCookieOptions(secure, DEVICE_TTL_SECONDS),
      sameSite: "strict",
    });
    return { username: account.username };
  });

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
