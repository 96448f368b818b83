// The web pod's app as a Fastify plugin: external plugins (security headers, cookies, rate
// limits), then our own concerns (cross-site request refusal, the session guard, one error
// handler, request metrics), then the routes. server.ts alone listens.
import type * as http from "node:http";
import fastifyCookie from "@fastify/cookie";
import fastifyHelmet from "@fastify/helmet";
import fastifyRateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from "fastify";
import fp from "fastify-plugin";
import type { WebEnv } from "../env";
import { createProvider, type CreateProviderOverrides } from "../llm/create-provider";
import type { LLMProvider } from "../llm/types";
import { MetaHumanPaths, VolumeError } from "../paths";
import { PasswordGate } from "./auth/passwords";
import { RecentChats } from "./alerts";
import { AlertWatch } from "./alert-watch";
import { SpendTracker } from "./spend";
import { adminSpendRoutes } from "./routes/admin-spend";
import { HttpError, type AppContext } from "./context";
import { refuseCrossSite } from "./cross-site";
import { createMetrics } from "./metrics";
import { RateLimiter } from "./rate-limit";
import { authRoutes } from "./routes/auth";
import { CHAT_LIMITS, chatRoutes } from "./routes/chat";
import { OpenChats } from "./routes/chat-drain";
import { healthRoutes } from "./routes/health";
import { metricsRoutes } from "./routes/metrics";
import { pageRoutes } from "./routes/page";
import { metahumanOsDoor } from "./routes/metahuman-os-door";
import type { InFlightCalls } from "../gateway/in-flight";
import { isSecureDeployment, registerSessionGuard } from "./session-guard";

/** Largest request body accepted (the chat route's limits say it, and the page keeps its requests under it). */
export const BODY_LIMIT_BYTES = CHAT_LIMITS.maxBodyBytes;

export interface AppOptions {
  env: WebEnv;
  /** Defaults to the provider LLM_PROVIDER names. */
  provider?: LLMProvider;
  providerOverrides?: CreateProviderOverrides;
  /** Defaults to MetaHumanPaths.open(env.METAHUMAN_ROOT), which throws if the volume is unusable. */
  paths?: MetaHumanPaths;
  now?: () => Date;
  /** How long one health check is reused (default 10 s). */
  healthCacheMs?: number;
  /** Password hashes at once, and waiting, before logins are refused with 429 (default 2 and 16). */
  passwordConcurrency?: { running: number; waiting: number };
  /** How often alerts are checked for delivery to ALERT_WEBHOOK_URL (default 60 s). */
  alertCheckMs?: number;
  /**
   * MetaHuman OS behind the front door: every route that is not ours is proxied to it, with a door session only.
   * Without it the app serves its own chat page and chat route (tests of the job client through a server).
   */
  door?: { upstream: string; inFlight: InFlightCalls };
  /** Checked by /api/health besides the volume and the endpoint. */
  components?: AppContext["components"];
}

/** The door's own routes; everything else goes to MetaHuman OS when it is behind the door. */
const OWN_ROUTES = /^\/(api\/(login|logout|logout-everywhere|session|health|admin\/spend)(\/|\?|$)|metrics(\?|$)|door\/)/;

declare module "fastify" {
  interface FastifyInstance {
    /** The chats in progress; server.ts drains them on SIGTERM before closing. */
    openChats: OpenChats;
    /** The app's context: the pod's entry feeds the gateway's jobs into its spend and metrics. */
    appContext: AppContext;
  }
}

export const metahumanApp: FastifyPluginAsync<AppOptions> = async (app, options) => {
  const env = options.env;
  const paths = options.paths ?? MetaHumanPaths.open(env.METAHUMAN_ROOT);
  const now = options.now ?? (() => new Date());
  const spend = new SpendTracker(env, now);
  const budgetAlerts = () => { const alert = spend.budgetAlert(); return alert ? [alert] : []; };
  const ctx: AppContext = {
    env,
    paths,
    provider: options.provider ?? createProvider(env, options.providerOverrides),
    metrics: createMetrics(paths, spend),
    recentChats: new RecentChats(() => now().getTime(), budgetAlerts),
    spend,
    chatLimiter: new RateLimiter(env.CHAT_RATE_LIMIT_PER_MINUTE, 60_000),
    passwordGate: new PasswordGate(options.passwordConcurrency?.running, options.passwordConcurrency?.waiting),
    now,
    ...(options.components ? { components: options.components } : {}),
  };
  app.decorate("appContext", ctx);
  if (env.ALERT_WEBHOOK_URL) {
    const watch = new AlertWatch(ctx, { url: env.ALERT_WEBHOOK_URL, now, warn: (message) => app.log.warn(message) });
    ctx.alertWatch = watch;
    app.addHook("onReady", async () => watch.start(options.alertCheckMs));
    app.addHook("onClose", async () => watch.stop());
  }
  const secure = isSecureDeployment(ctx);
  const openChats = new OpenChats();
  app.decorate("openChats", openChats);

  await app.register(fastifyHelmet, {
    // MetaHuman OS's page is its own (inline scripts and styles); our strict policy is for our pages only.
    contentSecurityPolicy: options.door ? false : {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
      },
    },
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    // Over plain HTTP (development) HSTS means nothing; over the pod's HTTPS URL it pins HTTPS.
    strictTransportSecurity: secure ? { maxAge: 31_536_000, includeSubDomains: false } : false,
  });
  await app.register(fastifyCookie, { hook: false });
  await app.register(fastifyRateLimit, { global: false });
  // Only JSON bodies: Fastify's built-in text/plain parser would let a cross-site form reach a route.
  app.removeContentTypeParser("text/plain");

  app.addHook("onRequest", async (request) => {
    // Node would answer this itself with an empty 400 (requireHostHeader is turned off in buildApp so that it is said in words).
    if (request.raw.httpVersion === "1.1" && !request.headers.host) throw new HttpError(400, "An HTTP/1.1 request needs a Host header.");
    refuseCrossSite(request, !options.door || OWN_ROUTES.test(request.url));
  });
  registerSessionGuard(app, ctx);

  app.addHook("onResponse", async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) };
    ctx.metrics.httpRequests.inc(labels);
    if (reply.statusCode >= 500) ctx.metrics.httpErrors.inc(labels);
  });

  app.setErrorHandler((caught, request, reply) => {
    const error = caught as Error & { statusCode?: number };
    if (error instanceof HttpError) {
      reply.headers(error.headers).code(error.statusCode).send({ error: error.message });
      return;
    }
    if (error instanceof VolumeError) {
      request.log.error({ err: error }, "the volume is not usable");
      reply.code(503).send({ error: "Your data volume is not available right now. Please try again later.", requestId: request.id });
      return;
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const message =
        status === 413 ? `The request is too large (limit ${BODY_LIMIT_BYTES / 1024} KiB).`
        : status === 415 ? "Send the request as application/json."
        : error.message;
      reply.code(status).send({ error: message });
      return;
    }
    // 5xx: the details go to the log, the client gets a request id to quote.
    request.log.error({ err: error }, "request failed");
    reply.code(500).send({ error: "Something went wrong on the server.", requestId: request.id });
  });

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ error: "Not found." });
  });

  await app.register(healthRoutes, { ctx, cacheMs: options.healthCacheMs });
  await app.register(metricsRoutes, { ctx });
  await app.register(adminSpendRoutes, { ctx });
  await app.register(authRoutes, { ctx });
  if (options.door) {
    await app.register(metahumanOsDoor, { ctx, upstream: options.door.upstream, inFlight: options.door.inFlight });
  } else {
    await app.register(chatRoutes, { ctx, openChats });
    await app.register(pageRoutes);
  }
};

// Not encapsulated (fastify-plugin): the error handler, limits and hooks cover every route of
// the instance it is registered on, also routes added beside it.
export const metahumanAppPlugin = fp(metahumanApp, { fastify: "5.x", name: "metahuman-app" });

/** A ready-to-listen instance (tests call inject() or listen on port 0). */
export async function buildApp(options: AppOptions, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  // The client's address is the socket's unless TRUST_PROXY_HOPS names how many proxies to believe:
  // with `trustProxy: true` any client could pick its own address in X-Forwarded-For. (Fastify's own
  // numeric trustProxy trusts nothing at all, so the hop count is a function: the socket and the
  // next hops-1 addresses are proxies; the address before them is the client.)
  const hops = options.env.TRUST_PROXY_HOPS;
  const trustProxy = hops > 0 ? (_address: string, hop: number) => hop < hops : false;
  // FastifyHttpOptions' `http` (node's server options); FastifyServerOptions does not list it.
  const nodeServer: { http: http.ServerOptions } = { http: { requireHostHeader: false } };
  const serverOptions: FastifyServerOptions = { logger: false, bodyLimit: BODY_LIMIT_BYTES, trustProxy, ...nodeServer, ...fastifyOptions };
  const app = Fastify(serverOptions);
  await app.register(metahumanAppPlugin, options);
  return app;
}
