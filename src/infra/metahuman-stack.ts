// MetaHumanStack: the three RunPod resources of a MetaHuman OS deployment and how they feed each other.
//   network volume (user data; protected, retained on delete)
//     └─ serverless vLLM endpoint in the volume's data center, the volume attached
//     └─ CPU web pod with the volume mounted, its env fed from the endpoint's id and the secrets
import * as pulumi from "@pulumi/pulumi";
import { NetworkVolume } from "../runpod/resources/network-volume";
import { Pod } from "../runpod/resources/pod";
import { ServerlessEndpoint } from "../runpod/resources/serverless-endpoint";
import { VOLUME_MOUNT_PATH, type StackConfig } from "./config";
import { estimateCost, type Prices } from "./cost";
import { significant, summarizeCost, type CostSummary } from "./cost/summary";

// The preview's cost summary lives with the cost model (cost/summary.ts); re-exported for existing importers.
export { summarizeCost, type CostSummary } from "./cost/summary";

export interface MetaHumanStackArgs {
  /** The validated stack config (see config.ts). */
  readonly config: StackConfig;
  /** Prices for the cost estimate: the live catalog or the dated table. */
  readonly prices: pulumi.Input<Prices>;
  /**
   * The web pod's own RunPod key (`metahuman:webRunpodApiKey`), restricted in RunPod's console to
   * the endpoint's job API; a secret. Without it the pod gets `deployApiKey`, with a warning.
   */
  readonly webRunpodApiKey?: pulumi.Input<string>;
  /** The key Pulumi deploys with (account-wide); a secret, compared with the pod's key, never given to the pod when a pod key is set. */
  readonly deployApiKey: pulumi.Input<string>;
  /** Signs the web pod's session cookies; a secret. */
  readonly sessionSecret: pulumi.Input<string>;
  /** Settles when the preflight against RunPod's catalog is done (preflight.ts): a failed one creates nothing. */
  readonly preflight?: pulumi.Output<unknown>;
}

/** Where MetaHuman OS keeps its tree on the volume (the web pod's METAHUMAN_ROOT). */
export const METAHUMAN_ROOT = `${VOLUME_MOUNT_PATH}/metahuman`;
/** Hugging Face hub cache on the volume, where the worker finds (and caches) model weights. */
export const HF_HUB_CACHE = `${VOLUME_MOUNT_PATH}/huggingface-cache/hub`;

export class MetaHumanStack extends pulumi.ComponentResource {
  public readonly volume: NetworkVolume;
  public readonly endpoint: ServerlessEndpoint;
  public readonly webPod: Pod;
  public readonly volumeId: pulumi.Output<string>;
  public readonly endpointId: pulumi.Output<string>;
  public readonly webPodId: pulumi.Output<string>;
  public readonly webUrl: pulumi.Output<string>;
  public readonly dataCenter: pulumi.Output<string>;
  /** The web pod's environment, secrets included (the whole map is a secret output). */
  public readonly webEnv: pulumi.Output<Record<string, string>>;
  /** The cost summary shown by `pulumi preview` (details: `npm run cost`). */
  public readonly costEstimate: pulumi.Output<CostSummary>;

  constructor(name: string, args: MetaHumanStackArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("metahuman:infra:MetaHumanStack", name, {}, opts);
    const { config } = args;

    // User data lives here. `protect` makes `pulumi destroy` refuse to delete it, and `retainOnDelete`
    // keeps it on RunPod even if someone unprotects it: losing a person's memory is never a side effect.
    this.volume = new NetworkVolume(`${name}-volume`, {
      // Through the preflight: the volume comes first and everything else waits for it.
      name: (args.preflight ?? pulumi.output(null)).apply(() => `${name}-data`),
      size: config.volumeSizeGb,
      dataCenter: config.dataCenter,
      type: config.volumeType,
    }, { parent: this, protect: true, retainOnDelete: true });

    this.endpoint = new ServerlessEndpoint(`${name}-endpoint`, {
      name: `${name}-llm`,
      image: config.workerImage,
      env: {
        ENGINE: "vllm",
        MODEL_NAME: config.model,
        MAX_MODEL_LEN: String(config.maxModelLen),
        GPU_MEMORY_UTILIZATION: String(config.gpuMemoryUtilization),
        HF_HUB_CACHE,
      },
      gpuPools: config.gpuPools,
      // Only hosts whose driver runs the image's CUDA (vLLM 0.33's default image needs 13.0, driver ≥ 580).
      minCudaVersion: config.workerCudaVersion,
      workersMin: config.workersMin,
      workersMax: config.workersMax,
      idleTimeout: config.idleTimeout,
      queueDelay: config.queueDelaySeconds,
      flashboot: config.flashboot ? "FLASHBOOT" : "OFF",
      executionTimeoutMs: config.executionTimeoutMs,
      networkVolumeId: this.volume.id,
      dataCenterIds: [config.dataCenter],
    }, { parent: this });

    const podApiKey = this.podApiKey(args);
    const webEnv = pulumi.secret(pulumi.all([this.endpoint.id, podApiKey, args.sessionSecret, args.prices])
      .apply(([endpointId, runpodApiKey, sessionSecret, prices]): Record<string, string> => ({
        RUNPOD_API_KEY: runpodApiKey,
        RUNPOD_ENDPOINT_ID: endpointId,
        METAHUMAN_ROOT,
        OLLAMA_MODELS: `${VOLUME_MOUNT_PATH}/ollama/models`,
        LLM_PROVIDER: "runpod_serverless",
        LLM_MODEL: config.model,
        HOST: "0.0.0.0",
        PORT: String(config.webPort),
        NODE_ENV: config.nodeEnv,
        METAHUMAN_AGENTS: config.agents,
        SESSION_SECRET: sessionSecret,
        // Spend per chat and the budget alert on the pod (src/app/server/spend.ts), at the prices deployed with.
        GPU_USD_PER_SECOND: String(significant(estimateCost(config, prices as Prices).gpuUsdPerSecond)),
        BUDGET_MONTHLY_USD: String(config.budgetMonthlyUsd),
      })));

    this.webPod = new Pod(`${name}-web`, {
      name: `${name}-web`,
      image: config.webImage,
      env: webEnv,
      ports: [`${config.webPort}/http`],
      containerDiskGb: config.webContainerDiskGb,
      cloud: config.cloud,
      cpuFlavor: config.webCpuFlavor,
      vcpuCount: config.webVcpu,
      dataCenterIds: [config.dataCenter],
      networkVolumeId: this.volume.id,
      volumeMountPath: VOLUME_MOUNT_PATH,
    }, { parent: this });

    this.volumeId = this.volume.id;
    this.endpointId = this.endpoint.id;
    this.webPodId = this.webPod.id;
    this.webUrl = pulumi.interpolate`https://${this.webPod.id}-${config.webPort}.proxy.runpod.net`;
    this.dataCenter = pulumi.output(config.dataCenter);
    this.webEnv = webEnv;
    this.costEstimate = pulumi.output(args.prices).apply((prices) => summarizeCost(estimateCost(config, prices as Prices), config.workersMax));

    this.registerOutputs({
      volumeId: this.volumeId,
      endpointId: this.endpointId,
      webPodId: this.webPodId,
      webUrl: this.webUrl,
      dataCenter: this.dataCenter,
      webEnv: this.webEnv,
      costEstimate: this.costEstimate,
    });
  }

  /**
   * The key the web pod holds. Any leak from a public web server must not control the account
   * (the volume included), so the pod gets its own key and preview warns when it is missing or
   * the same as the deploy key. The warnings never show a key.
   */
  private podApiKey(args: MetaHumanStackArgs): pulumi.Output<string> {
    if (args.webRunpodApiKey === undefined) {
      void pulumi.log.warn(
        "metahuman:webRunpodApiKey is not set, so the web pod gets the deploy key, which controls the whole RunPod account. " +
          "Make a key restricted to this endpoint in RunPod's console and run `pulumi config set --secret metahuman:webRunpodApiKey <key>`.",
        this,
      );
      return pulumi.secret(pulumi.output(args.deployApiKey));
    }
    return pulumi.secret(
      pulumi.all([args.webRunpodApiKey, args.deployApiKey]).apply(([podKey, deployKey]) => {
        if (podKey === deployKey) {
          void pulumi.log.warn(
            "metahuman:webRunpodApiKey is the same key Pulumi deploys with: the web pod can then control the whole RunPod account. " +
              "Give the pod a key restricted to this endpoint (docs/security.md: \"A restricted key for the web pod\").",
            this,
          );
        }
        return podKey;
      }),
    );
  }
}
