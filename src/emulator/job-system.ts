// Wires the emulator's serverless side: one JobStore, one executor (in-process
// fakes or real SDK worker processes, chosen by option), the job API and the
// worker protocol. Decorates the app with `jobSystem` so other plugins (billing)
// can read worker-seconds and job counts per endpoint.
import { checkWebhookOrigin } from "./job-webhooks";
import type { FastifyInstance } from "fastify";
import { JobStore, type EndpointLookup, type JobStoreOptions } from "./job-store";
import type { JobExecutor } from "./job-executor";
import { InProcessExecutor, type InProcessExecutorOptions } from "./job-executor-in-process";
import { jobApiPlugin } from "./job-api";
import type { JobRateLimits } from "./job-admission";
import { WorkerManager, type WorkerManagerOptions } from "./worker-manager";
import { workerProtocolPlugin } from "./worker-protocol";

export interface JobSystemOptions extends JobStoreOptions {
  /** Looks endpoints up in the REST state; jobs for an unknown endpoint get 404. */
  endpoints?: EndpointLookup;
  /** "in-process" (default): functions stand in for workers. "workers": real SDK worker processes. */
  executor?: "in-process" | "workers";
  inProcess?: InProcessExecutorOptions;
  workers?: WorkerManagerOptions;
  /** Longest a worker's job-take / job-stop long poll waits. Default 5 000 ms. */
  workerPollWaitMs?: number;
  rateLimits?: Partial<JobRateLimits>;
  rateWindowMs?: number;
  streamWaitMs?: number;
  /** Pause before each of a webhook's two retries. Default 10 000 ms (RunPod's). */
  webhookRetryDelayMs?: number;
  /** The only origins jobs' webhooks may name, each http(s) on loopback (e.g. a test's receiver). Default none. */
  webhookOrigins?: readonly string[];
}

export interface JobSystem {
  store: JobStore;
  executor: JobExecutor;
}

declare module "fastify" {
  interface FastifyInstance {
    jobSystem: JobSystem;
  }
}

/**
 * Worker-seconds go to the billing ledger when a worker stops (a worker still up at close stops then),
 * for both executors: both report start/stop on the store's clock (buildEmulator gives it the ledger's).
 * The pool (the price) is read when the worker starts: the endpoint may be gone by the time it stops.
 */
function billWorkerSeconds(app: FastifyInstance, executor: JobExecutor): void {
  type GpuPool = NonNullable<Parameters<typeof app.billing.recordWorkerSeconds>[0]["gpuPool"]>;
  const started = new Map<string, { at: number; pool?: GpuPool }>();
  executor.on("worker", (event) => {
    if (event.type === "start") {
      const pool = app.hasDecorator("runpodRest") ? app.runpodRest.getEndpointConfig(event.endpointId)?.gpuPools[0] : undefined;
      started.set(event.workerId, { at: event.at, ...(pool ? { pool: pool as GpuPool } : {}) });
      return;
    }
    const start = started.get(event.workerId);
    started.delete(event.workerId);
    if (start === undefined || !app.hasDecorator("billing")) return;
    app.billing.recordWorkerSeconds({
      endpointId: event.endpointId,
      workerId: event.workerId,
      startedAt: start.at,
      stoppedAt: event.at,
      jobs: event.jobs,
      ...(start.pool ? { gpuPool: start.pool } : {}),
    });
  });
}

async function jobSystemPlugin(app: FastifyInstance, options: JobSystemOptions & { apiKey: string }): Promise<void> {
  const endpoints: EndpointLookup = options.endpoints ?? (() => undefined);
  const store = new JobStore(options);
  const origin = (): string => {
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("workers start only once the emulator listens on TCP");
    return `http://127.0.0.1:${address.port}`;
  };
  const manager = options.executor === "workers" ? new WorkerManager(store, endpoints, origin, options.apiKey, options.workers) : undefined;
  const executor: JobExecutor = manager ?? new InProcessExecutor(store, endpoints, options.inProcess);
  app.decorate("jobSystem", { store, executor });
  // REST v2's worker list shows the real worker processes.
  if (manager && app.hasDecorator("runpodRest")) app.runpodRest.workersOf = (endpointId) => manager.reported(endpointId);
  billWorkerSeconds(app, executor);
  // preClose: workers are stopped while the server still answers them, then long polls end.
  app.addHook("preClose", async () => {
    store.emit("closing");
    await executor.close();
  });
  app.addHook("onClose", async () => store.close());
  await app.register(jobApiPlugin, {
    apiKey: options.apiKey,
    store,
    executor,
    endpoints,
    rateLimits: options.rateLimits,
    rateWindowMs: options.rateWindowMs,
    streamWaitMs: options.streamWaitMs,
    webhookRetryDelayMs: options.webhookRetryDelayMs,
    webhookOrigins: (options.webhookOrigins ?? []).map(checkWebhookOrigin),
  });
  await app.register(workerProtocolPlugin, { apiKey: options.apiKey, store, manager, pollWaitMs: options.workerPollWaitMs });
}
// The decoration must be visible outside this plugin (what fastify-plugin does).
(jobSystemPlugin as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;

export { jobSystemPlugin };
