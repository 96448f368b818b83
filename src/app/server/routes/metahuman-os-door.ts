// The front door of MetaHuman OS: every request that is not one of ours is proxied to MetaHuman OS on loopback
// (@fastify/http-proxy), but only with a door session. MetaHuman OS lets anyone register and the first visitor
// becomes its owner; here its routes that create accounts or sessions answer 403 to everyone, and a stranger gets
// the door's login page (pages) or 401 (API), never MetaHuman OS. A stop the person gives in MetaHuman OS's page
// (POST /api/cancel-chat) also aborts the gateway's calls in flight, which cancels their RunPod jobs: MetaHuman OS
// itself only sets a flag and lets the running job finish.
import * as fs from "node:fs";
import * as path from "node:path";
import fastifyHttpProxy from "@fastify/http-proxy";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { InFlightCalls } from "../../gateway/in-flight";
import { revokeSession } from "../auth/accounts";
import { sessionCookieName } from "../auth/sessions";
import { HttpError, type AppContext } from "../context";
import { cookieValues, sessionCookieOptions } from "../cookies";
import { metahumanOsSession } from "../../metahuman-os/owner";
import { isSecureDeployment } from "../session-guard";
import { PUBLIC_DIR } from "./page";

export interface DoorOptions {
  ctx: AppContext;
  /** MetaHuman OS on loopback, e.g. http://127.0.0.1:4322. */
  upstream: string;
  inFlight: InFlightCalls;
}

/** MetaHuman OS's routes that carry one chat from request to answer (persona_chat, and the page's queue stream). */
const CHAT_ROUTES = [/^\/api\/persona_chat$/, /^\/api\/unified-queue\/tasks\/[^/]+\/stream$/];

/** MetaHuman OS's routes that make accounts or sessions without the deployer: nobody reaches them through the door. */
export const CLOSED_ROUTES = [
  "/api/auth/register",
  "/api/auth/guest",
  "/api/auth/sync-user",
  "/api/auth/reset-password",
  "/api/auth/change-username",
  "/api/auth/change-password",
  "/api/auth/users",
  "/api/profile-sync/user",
];

/**
 * MetaHuman OS's web terminal: its page opens it by itself for the owner (the "system" view is on by default), and
 * POST /api/terminal/spawn runs ttyd with any command the request names. The pod has no ttyd, and MetaHuman OS does
 * not handle the failed spawn: the process dies and the pod with it, at every page load. No web shell through the
 * door: a 404 in words, which the page shows in its terminal panel and goes on.
 */
export const NO_TERMINAL_ROUTES = ["/api/terminal"];

/**
 * MetaHuman OS's routes that run a program the request names, for the owner:
 * - POST /api/execute runs its command line (`tsx <METAHUMAN_ROOT>/packages/cli/src/mh-new.ts <command>`). The pod has
 *   neither: its build holds no packages/cli, and the image's PATH has no `tsx`, where MetaHuman OS does not handle
 *   the failed spawn: one request ended its process and the pod (measured).
 * - POST /api/process-stream runs `bash`, `node`, `python3`… with any arguments and environment: a shell, and one
 *   that runs as the same user as the door, whose environment holds the RunPod key and the session secret.
 * No shell through the door: a 404 in words.
 */
export const NO_COMMAND_LINE_ROUTES = ["/api/execute", "/api/process-stream"];

/**
 * MetaHuman OS's owner routes that start, install, train, switch or update programs on its own machine. On the pod
 * there is nothing to start (its LLM is the RunPod endpoint, written into its config at every start; its code is the
 * image's pinned commit), and six of them ended MetaHuman OS, and the pod with it, with one request on the image's
 * PATH (measured): the spawn of `tsx`, `ollama` or `start-interpreter` fails unhandled, and the restart route exits
 * on purpose to run a `start.sh` from the volume. The switch and config routes would also move chats off the
 * endpoint, and the add-on installers run `bin/install-*.sh` from the volume (the stream one for any caller).
 * `METHOD /route` closes that method only; the GET routes beside them only report status and stay open.
 */
export const NO_LOCAL_PROGRAM_ROUTES = [
  "POST /api/addons/install",
  "GET /api/addons/install-stream",
  "POST /api/kokoro-addon",
  "POST /api/rvc-addon",
  "POST /api/adapters",
  "POST /api/training/launch",
  "POST /api/interpreter-status",
  "POST /api/llm-backend/ollama",
  "POST /api/llm-backend/vllm",
  "POST /api/llm-backend/switch",
  "PUT /api/llm-backend/config",
  "POST /api/server-update",
];

/**
 * MetaHuman OS's profile import writes each file it is sent at `profiles/<user>/<path>` with the path unchecked:
 * `../` reached every file the pod's user can write, the door's accounts under METAHUMAN_ROOT/users included, for any
 * logged-in user (measured: a file written beside METAHUMAN_ROOT). Data comes onto the volume with
 * `npm run volume -- push-data` instead.
 */
export const NO_IMPORT_ROUTES = ["POST /api/profile-sync/import"];

/**
 * Whether `route` is one of `prefixes` or under one of them. A prefix written `METHOD /route` counts for that method
 * only.
 */
const isUnder = (method: string, route: string, prefixes: readonly string[]) =>
  prefixes.some((entry) => {
    const space = entry.indexOf(" ");
    if (space > 0 && entry.slice(0, space) !== method) return false;
    const p = entry.slice(space + 1);
    return route === p || route.startsWith(`${p}/`);
  });

/** What the door answers instead of MetaHuman OS, for each list of closed routes. */
const CLOSED_BY_THE_DOOR: ReadonlyArray<{ routes: readonly string[]; status: number; message: string }> = [
  { routes: CLOSED_ROUTES, status: 403, message: "Accounts on this MetaHuman OS are made by its deployer (npm run add-user); log in at /door/login." },
  { routes: NO_TERMINAL_ROUTES, status: 404, message: "There is no web terminal on this pod." },
  { routes: NO_COMMAND_LINE_ROUTES, status: 404, message: "There is no MetaHuman OS command line on this pod." },
  {
    routes: NO_LOCAL_PROGRAM_ROUTES,
    status: 404,
    message: "MetaHuman OS starts, installs, trains, switches and updates no programs on this pod: its LLM is the RunPod endpoint, and its code the image's pinned commit (a new image updates it).",
  },
  {
    routes: NO_IMPORT_ROUTES,
    status: 403,
    message: "Profile import is closed on this pod: MetaHuman OS writes each file at the path it is sent, unchecked. Bring data onto the volume with npm run volume -- push-data.",
  },
];

const pathOf = (url: string) => {
  const q = url.indexOf("?");
  let p = q >= 0 ? url.slice(0, q) : url;
  try { p = decodeURIComponent(p); } catch { /* a malformed escape is compared as it is */ }
  return path.posix.normalize(p).replace(/\/+$/, "") || "/";
};

export const metahumanOsDoor: FastifyPluginAsync<DoorOptions> = async (app, { ctx, upstream, inFlight }) => {
  const secure = isSecureDeployment(ctx);
  const upstreamOrigin = new URL(upstream).origin;
  const files: Record<string, { file: string; type: string }> = {
    "/door/login": { file: "door-login.html", type: "text/html; charset=utf-8" },
    "/door/login.js": { file: "door-login.js", type: "text/javascript; charset=utf-8" },
    "/door/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  };
  for (const [url, { file, type }] of Object.entries(files)) {
    const body = fs.readFileSync(path.join(PUBLIC_DIR, file));
    app.get(url, async (_request, reply) => reply.header("content-type", type).header("cache-control", "no-cache").send(body));
  }

  // MetaHuman OS's session for a request that came without one: the door logs the person in to MetaHuman OS.
  const injected = new WeakMap<FastifyRequest, string>();

  const guard = async (request: FastifyRequest, reply: FastifyReply) => {
    const route = pathOf(request.url);
    const { method } = request;
    for (const { routes, status, message } of CLOSED_BY_THE_DOOR) {
      if (isUnder(method, route, routes)) throw new HttpError(status, message);
    }
    if (request.metahumanSessionProblem) throw request.metahumanSessionProblem;
    if (!request.metahumanSession) {
      const wantsPage = method === "GET" && /text\/html/.test(String(request.headers.accept ?? ""));
      if (wantsPage) return reply.redirect(`/door/login?next=${encodeURIComponent(request.url)}`, 302);
      throw new HttpError(401, "Please log in at /door/login.");
    }
    if (cookieValues(request.headers.cookie, "mh_session").length === 0) {
      const id = await metahumanOsSession(upstream, request.metahumanSession.username, ctx.env.SESSION_SECRET);
      injected.set(request, id);
      reply.setCookie("mh_session", id, sessionCookieOptions(secure, 24 * 3600));
    }
    if (method === "POST" && route === "/api/cancel-chat") {
      const stopped = inFlight.stop("the person stopped the chat");
      request.log.info({ stopped }, "chat stopped: gateway calls aborted");
    }
    if (CHAT_ROUTES.some((pattern) => pattern.test(route))) {
      const ended = inFlight.chatOpened();
      reply.raw.once("close", () => {
        // The page went away before the answer: MetaHuman OS would go on (and bill) for nobody.
        if (!reply.raw.writableFinished) inFlight.stop("the page dropped the chat");
        ended();
      });
    }
    if (method === "POST" && route === "/api/auth/logout") {
      // Logging out of MetaHuman OS ends the door's session too: one login, one logout.
      await revokeSession(ctx.paths, request.metahumanSession, ctx.now());
      reply.setCookie(sessionCookieName(secure), "", { ...sessionCookieOptions(secure, 0), expires: new Date(0) });
    }
  };

  await app.register(fastifyHttpProxy, {
    upstream,
    prefix: "/",
    preHandler: guard,
    // The door's own cookie is not MetaHuman OS's business.
    replyOptions: {
      rewriteRequestHeaders: (request, headers) => {
        const parts = typeof headers.cookie === "string" ? headers.cookie.split(";").filter((part) => !/^\s*(__Host-)?door_session=/.test(part)) : [];
        const session = injected.get(request as FastifyRequest);
        if (session) parts.push(` mh_session=${session}`);
        const { cookie: _dropped, ...rest } = headers;
        // The proxy sends MetaHuman OS its own Host, so a same-origin Origin must name that host too: Astro refuses
        // a POST without a body (the page's /api/activity-ping, its logout) whose Origin is not its own URL's. Only
        // same-origin requests get this far (refuseCrossSite runs on every request before the door).
        if (rest.origin !== undefined) rest.origin = upstreamOrigin;
        return parts.length > 0 ? { ...rest, cookie: parts.join(";").trim() } : rest;
      },
    },
  });
};
