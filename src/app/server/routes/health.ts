// GET /api/health: the volume, the LLM backend (a free probe, never a generation) and the
// alerts. 503 when the volume is not usable or the backend says it is unhealthy.
// Anyone gets the status alone; the details (provider, backend state, volume usage, alerts)
// need monitoring access (MONITORING_TOKEN or an ADMIN_USERS session).
// Each call checks the volume without writing (the root's identity, its write permission); what
// costs something runs at most once per HEALTH_CACHE_MS however often the route is called: the
// upstream probe (a call with the RunPod key) and the probe file written to the volume.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import type { FastifyPluginAsync } from "fastify";
import type { AppContext } from "../context";
import { isMonitor } from "../session-guard";

const PROBE_TIMEOUT_MS = 5_000;
export const HEALTH_CACHE_MS = 10_000;

type BackendHealth = { ok: boolean; detail?: string; backend?: Record<string, unknown> };
interface CostlyChecks {
  writeProblem: string | undefined;
  storage: { usedRatio: number } | undefined;
  llm: BackendHealth;
  components: Record<string, BackendHealth>;
}

export const healthRoutes: FastifyPluginAsync<{ ctx: AppContext; cacheMs?: number }> = async (app, { ctx, cacheMs = HEALTH_CACHE_MS }) => {
  let cached: { at: number; checks: Promise<CostlyChecks> } | undefined;
  const costlyChecks = (): Promise<CostlyChecks> => {
    const now = performance.now();
    if (!cached || now - cached.at >= cacheMs) {
      cached = {
        at: now,
        checks: Promise.all([ctx.paths.checkWritable(), ctx.paths.storageUsage().catch(() => undefined), probeBackend(ctx), probeComponents(ctx)]).then(
          ([writeProblem, storage, llm, components]) => ({ writeProblem, storage, llm, components }),
        ),
      };
    }
    return cached.checks;
  };

  app.get("/api/health", async (request, reply) => {
    const [quickProblem, checks] = await Promise.all([quickVolumeCheck(ctx), costlyChecks()]);
    const writeProblem = quickProblem ?? checks.writeProblem;
    const alerts = ctx.recentChats.alerts(checks.storage?.usedRatio);
    const healthy = writeProblem === undefined && checks.llm.ok && Object.values(checks.components).every((c) => c.ok);
    const status = healthy ? (alerts.length > 0 ? "degraded" : "ok") : "unhealthy";
    reply.code(healthy ? 200 : 503).header("cache-control", "no-store");
    if (!isMonitor(ctx, request)) return { status };
    return {
      status,
      volume: {
        writable: writeProblem === undefined,
        ...(writeProblem ? { problem: writeProblem } : {}),
        usedPercent: checks.storage ? Math.round(checks.storage.usedRatio * 1000) / 10 : null,
      },
      llm: { provider: ctx.provider.name, ...checks.llm },
      ...(ctx.components ? { components: checks.components } : {}),
      alerts,
    };
  });
};

/** The root is still the volume the server started with and allows writes: stat and access only. */
async function quickVolumeCheck(ctx: AppContext): Promise<string | undefined> {
  if (await ctx.paths.checkVolume()) return "ENOENT";
  try {
    await fsp.access(ctx.paths.root, fs.constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "not writable";
  }
}

async function probeComponents(ctx: AppContext): Promise<Record<string, BackendHealth>> {
  const entries = await Promise.all((ctx.components ?? []).map(async (component): Promise<[string, BackendHealth]> => {
    try {
      return [component.name, await component.check(AbortSignal.timeout(PROBE_TIMEOUT_MS))];
    } catch (err) {
      return [component.name, { ok: false, detail: `the check failed (${err instanceof Error ? err.constructor.name : "error"})` }];
    }
  }));
  return Object.fromEntries(entries);
}

async function probeBackend(ctx: AppContext): Promise<BackendHealth> {
  if (!ctx.provider.health) return { ok: true, detail: "this provider has no health probe" };
  const deadline = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    return await ctx.provider.health(deadline);
  } catch (err) {
    // Our own deadline tells a timeout apart; the error's message may quote the upstream body, so only its kind is shown.
    if (deadline.aborted) return { ok: false, detail: `no answer within ${PROBE_TIMEOUT_MS} ms` };
    return { ok: false, detail: `the probe failed (${err instanceof Error ? err.constructor.name : "error"})` };
  }
}
