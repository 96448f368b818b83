// GET /metrics: Prometheus text format.
import type { FastifyPluginAsync } from "fastify";
import type { AppContext } from "../context";

export const metricsRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
};
