// GET /api/health: the volume, the LLM backend (a free probe, never a generation) and
// the alerts. 503 when the volume is not writable or the backend says it is unhealthy.
import type { FastifyPluginAsync } from "fastify";
import type { AppContext } from "../context";

const PROBE_TIMEOUT_MS = 5_000;

export const healthRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get("/api/health", async (_request, reply) => {
    const [writeProblem, storage, llm] = await Promise.all([
      ctx.paths.checkWritable(),
      ctx.paths.storageUsage().catch(() => undefined),
      probeBackend(ctx),
    ]);
    const alerts = ctx.recentChats.alerts(storage?.usedRatio);
    const healthy = writeProblem === undefined && llm.ok;
    reply.code(healthy ? 200 : 503);
    return {
      status: healthy ? (alerts.length > 0 ? "degraded" : "ok") : "unhealthy",
      volume: {
        writable: writeProblem === undefined,
        ...(writeProblem ? { problem: writeProblem } : {}),
        usedPercent: storage ? Math.round(storage.usedRatio * 1000) / 10 : null,
      },
      llm: { provider: ctx.provider.name, ...llm },
      alerts,
    };
  });
};

async function probeBackend(ctx: AppContext): Promise<{ ok: boolean; detail?: string; backend?: Record<string, unknown> }> {
  if (!ctx.provider.health) return { ok: true, detail: "this provider has no health probe" };
  try {
    return await ctx.provider.health(AbortSignal.timeout(PROBE_TIMEOUT_MS));
  } catch (err) {
    return { ok: false, detail: (err as Error).name === "TimeoutError" ? `no answer within ${PROBE_TIMEOUT_MS} ms` : (err as Error).message };
  }
}
