// The gateway as a server of its own, on 127.0.0.1 only: MetaHuman OS reaches it, the public port never serves it.
// Its calls feed the web pod's metrics and spend (per finished job, as chats did) and a per-outcome counter.
import Fastify, { type FastifyInstance } from "fastify";
import { Counter, Histogram } from "prom-client";
import type { AppContext } from "../server/context";
import { recordChatSpend } from "../server/spend";
import { InFlightCalls } from "./in-flight";
import { gatewayRoutes } from "./openai-routes";

export interface GatewayServer {
  app: FastifyInstance;
  inFlight: InFlightCalls;
  url: string;
}

export async function startGateway(ctx: AppContext, options: { port: number; token: string; model: string; inFlight?: InFlightCalls }): Promise<GatewayServer> {
  const inFlight = options.inFlight ?? new InFlightCalls();
  const registers = [ctx.metrics.registry];
  const calls = new Counter({ name: "metahuman_gateway_calls_total", help: "LLM calls MetaHuman OS made through the gateway, by outcome (each one RunPod job)", labelNames: ["outcome"], registers });
  const duration = new Histogram({ name: "metahuman_gateway_call_seconds", help: "Time of one gateway call, queue and cold start included", buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers });
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024, forceCloseConnections: true });
  await app.register(gatewayRoutes, {
    provider: ctx.provider,
    model: options.model,
    token: options.token,
    inFlight,
    maxTokens: ctx.env.GATEWAY_MAX_TOKENS,
    timeoutMs: ctx.env.GATEWAY_TIMEOUT_MS,
    onJob: (job) => void recordChatSpend(ctx, { delayMs: job.delayMs, executionMs: job.executionMs }),
    onCall: (call) => {
      calls.inc({ outcome: call.outcome });
      duration.observe(call.durationMs / 1000);
      if (call.coldStartMs !== undefined) ctx.metrics.coldStart.observe({ provider: ctx.provider.name }, call.coldStartMs / 1000);
    },
  });
  const url = await app.listen({ host: "127.0.0.1", port: options.port });
  return { app, inFlight, url };
}
