// GET /api/admin/spend: what this deployment costs while it runs, for monitoring access only (MONITORING_TOKEN or an
// ADMIN_USERS session): the month so far from RunPod's billing API (cached 15 min; ?refresh=1 reads again), its
// projection to the month's end against the budget, and the chats' GPU seconds and dollars since this server started.
import type { FastifyPluginAsync } from "fastify";
import { HttpError, type AppContext } from "../context";
import { isMonitor } from "../session-guard";

export const adminSpendRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { refresh?: string } }>("/api/admin/spend", async (request, reply) => {
    if (!isMonitor(ctx, request)) {
      throw new HttpError(401, "Spend needs the monitoring token (Authorization: Bearer ...) or an admin's session.", { "www-authenticate": 'Bearer realm="metrics"' });
    }
    const reading = await ctx.spend.monthToDate(request.query.refresh === "1");
    const cents = (n: number) => Math.round(n * 100) / 100;
    const chats = ctx.spend.chats;
    reply.header("cache-control", "no-store");
    return {
      ...(reading.ok
        ? { monthToDate: { ...reading.monthToDate, totalUsd: cents(reading.monthToDate.totalUsd),
          projectedMonthUsd: reading.monthToDate.projectedMonthUsd === null ? null : cents(reading.monthToDate.projectedMonthUsd) } }
        : { monthToDate: null, problem: reading.problem }),
      budgetMonthlyUsd: ctx.spend.budgetMonthlyUsd ?? null,
      gpuUsdPerSecond: ctx.spend.gpuUsdPerSecond ?? null,
      chatsSinceStart: {
        count: chats.count,
        gpuSeconds: Math.round(chats.gpuSeconds * 10) / 10,
        usd: ctx.spend.gpuUsdPerSecond === undefined ? null : Math.round(chats.usd * 10_000) / 10_000,
        last: chats.last ?? null,
      },
      alerts: ctx.spend.budgetAlert() ? [ctx.spend.budgetAlert()] : [],
    };
  });
};
