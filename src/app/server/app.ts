// The web pod's app as a Fastify plugin: external concerns (limits, security headers,
// one error handler, request metrics), then the routes. server.ts alone listens.
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from "fastify";
import type { WebEnv } from "../env";
import { createProvider, type CreateProviderOverrides } from "../llm/create-provider";
import type { LLMProvider } from "../llm/types";
import { MetaHumanPaths } from "../paths";
import { RecentChats } from "./alerts";
import { HttpError, type AppContext } from "./context";
import { createMetrics } from "./metrics";
import { RateLimiter } from "./rate-limit";
import { authRoutes } from "./routes/auth";
import { chatRoutes } from "./routes/chat";
import { healthRoutes } from "./routes/health";
import { metricsRoutes } from "./routes/metrics";
import { pageRoutes } from "./routes/page";

/** Largest request body accepted (a chat of MAX_MESSAGES long messages fits). */
export const BODY_LIMIT_BYTES = 512 * 1024;

export interface AppOptions {
  env: WebEnv;
  /** Defaults to the provider LLM_PROVIDER names. */
  provider?: LLMProvider;
  providerOverrides?: CreateProviderOverrides;
  /** Defaults to MetaHumanPaths.open(env.METAHUMAN_ROOT), which throws if the volume is unusable. */
  paths?: MetaHumanPaths;
  now?: () => Date;
}

export const metahumanApp: FastifyPluginAsync<AppOptions> = async (app, options) => {
  const env = options.env;
  const paths = options.paths ?? MetaHumanPaths.open(env.METAHUMAN_ROOT);
  const ctx: AppContext = {
    env,
    paths,
    provider: options.provider ?? createProvider(env, options.providerOverrides),
    metrics: createMetrics(paths),
    recentChats: new RecentChats(),
    chatLimiter: new RateLimiter(env.CHAT_RATE_LIMIT_PER_MINUTE, 60_000),
    loginLimiter: new RateLimiter(10, 60_000),
    now: options.now ?? (() => new Date()),
  };

  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    reply.header("content-security-policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    return payload;
  });

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

  await app.register(healthRoutes, { ctx });
  await app.register(metricsRoutes, { ctx });
  await app.register(authRoutes, { ctx });
  await app.register(chatRoutes, { ctx });
  await app.register(pageRoutes);
};

// Not encapsulated (what fastify-plugin does): the error handler, limits and hooks
// cover every route of the instance it is registered on, also routes added beside it.
(metahumanApp as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;

/** A ready-to-listen instance (tests call inject() or listen on port 0). */
export async function buildApp(options: AppOptions, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, trustProxy: true, ...fastifyOptions });
  await app.register(metahumanApp, options);
  return app;
}
