// GET /metrics: Prometheus text format, for monitoring only (MONITORING_TOKEN as a Bearer
// token, or an ADMIN_USERS session): request counts, failed logins and volume usage are not public.
import type { FastifyPluginAsync } from "fastify";
import { HttpError, type AppContext } from "../context";
import { isMonitor } from "../session-guard";

export const metricsRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get("/metrics", async (request, reply) => {
    if (!isMonitor(ctx, request)) {
      throw new HttpError(401, "Metrics need the monitoring token (Authorization: Bearer ...) or an admin's session.", { "www-authenticate": 'Bearer realm="metrics"' });
    }
    reply.header("content-type", ctx.metrics.registry.contentType).header("cache-control", "no-store");
    return ctx.metrics.registry.metrics();
  });
};
