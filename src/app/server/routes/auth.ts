// POST /api/login, POST /api/logout, GET /api/session.
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { authenticate } from "../auth/accounts";
import { SESSION_COOKIE, SESSION_TTL_SECONDS, signSession } from "../auth/sessions";
import { HttpError, type AppContext } from "../context";
import { sessionCookie } from "../cookies";
import { currentUser } from "../session-guard";
import { validateUsername } from "../../paths";

const loginSchema = z.object({ username: z.string().max(64), password: z.string().max(1024) });

export const authRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const secure = ctx.env.NODE_ENV === "production";

  app.post("/api/login", async (request, reply) => {
    const wait = ctx.loginLimiter.hit(`login:${request.ip}`);
    if (wait !== undefined) throw new HttpError(429, "Too many login attempts. Please wait a minute.", { "retry-after": String(Math.ceil(wait / 1000)) });
    const body = loginSchema.safeParse(request.body);
    if (!body.success) throw new HttpError(400, "Send JSON with a username and a password.");
    let username: string | undefined;
    try {
      validateUsername(body.data.username);
      username = await authenticate(ctx.paths, body.data.username, body.data.password);
    } catch {
      username = undefined;
    }
    if (!username) throw new HttpError(401, "Wrong username or password.");
    const token = signSession(username, ctx.env.SESSION_SECRET, Math.floor(ctx.now().getTime() / 1000));
    reply.header("set-cookie", sessionCookie(SESSION_COOKIE, token, { maxAgeSeconds: SESSION_TTL_SECONDS, secure }));
    return { username };
  });

  app.post("/api/logout", async (_request, reply) => {
    reply.header("set-cookie", sessionCookie(SESSION_COOKIE, "", { maxAgeSeconds: 0, secure }));
    return { ok: true };
  });

  app.get("/api/session", async (request) => {
    const username = currentUser(ctx, request);
    if (!username) throw new HttpError(401, "Please log in.");
    return { username };
  });
};
