// The local RunPod: one Fastify app on loopback that serves what RunPod's cloud
// serves, so the stack, the web pod and real SDK workers run on one machine.
//   /v2/network-volumes, /v2/serverless, /v2/pods, /v2/catalog, /v2/billing  REST v2 (api.runpod.io)
//   /v2/{endpointId}/run|runsync|status|stream|cancel|retry|purge-queue|health  job API (api.runpod.ai)
//   /v2/{endpointId}/openai/v1/chat/completions|models                       OpenAI-compatible route (jobs too)
//   /s3/{volumeId}/{key}                                                      S3 API for network volumes (also at the root of a
//                                                                             listener per data center: startS3Listener)
//   /_worker/...                                                              worker protocol (job-take, job-done, ...)
//   /_emulator/...                                                            test controls: faults, inspection
// Each area is a Fastify plugin in its own file, registered here.
import Fastify, { type FastifyInstance } from "fastify";
import { jobSystemPlugin, type JobSystemOptions } from "./job-system";
import { restV2Plugin } from "./rest-v2";
import { BillingLedger } from "./billing";
import { openaiRoutePlugin } from "./openai-route";
import { registerS3Api, type S3ApiOptions } from "./s3/s3-api";

export interface EmulatorOptions {
  /** The API key clients must send as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Log requests (off in tests). */
  logger?: boolean;
  /** Job API and workers: executor kind, retention TTLs, rate limits, endpoint lookup. */
  jobs?: JobSystemOptions;
  /** Billing ledger (its prices and clock); other areas reach it as `app.billing`. */
  billing?: BillingLedger;
  /** RunPod's S3 API for network volumes, under /s3: the S3 keys it accepts and where each volume's files live. */
  s3?: Omit<S3ApiOptions, "volume">;
}

export async function buildEmulator(options: EmulatorOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  // Plugins are registered here as they are written (REST v2, job API, worker protocol, billing).
  const ledger = options.billing ?? new BillingLedger();
  // First: its fault hooks cover every later route; it decorates the app with the state and the ledger.
  await app.register(restV2Plugin, { apiKey: options.apiKey, ledger });
  // One clock for jobs and billing (unless the caller gives the jobs their own): worker-seconds are stamped
  // by the job store's clock and billed up to the ledger's "now", so a test clock must drive both.
  await app.register(jobSystemPlugin, { endpoints: app.runpodRest.jobEndpoint, now: ledger.now, ...options.jobs, apiKey: options.apiKey });
  await app.register(openaiRoutePlugin, { apiKey: options.apiKey, endpoints: options.jobs?.endpoints ?? app.runpodRest.jobEndpoint });
  if (options.s3) {
    await registerS3Api(app, {
      ...options.s3,
      volume: (id) => {
        const volume = app.runpodRest.volumes.get(id);
        return volume && { dataCenter: volume.dataCenter, sizeGb: volume.size };
      },
      volumes: () => [...app.runpodRest.volumes.values()].map((v) => ({ id: v.id, dataCenter: v.dataCenter })),
    });
  }
  return app;
}
