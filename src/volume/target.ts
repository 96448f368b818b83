// Which volume the tool talks to, where, and with which S3 key: flags first, then the environment, then the
// Pulumi stack (its outputs volumeId/dataCenter, its config secrets metahuman:s3AccessKeyId/s3SecretAccessKey),
// then RunPod's REST API for what is still missing (the volume's data center and size). The S3 secret is held here
// and handed to the S3 client only: it never reaches a message, a log line or a URL.
import { spawnSync } from "node:child_process";
import { MetaHumanError } from "../common/errors";
import { createRunPodRestClient } from "../runpod/rest";
import { S3_DATA_CENTERS, hasS3Api, s3EndpointFor } from "../runpod/s3-endpoints";

export class VolumeError extends MetaHumanError {
  constructor(message: string, cause?: unknown) {
    super({ name: "VolumeError", message, cause });
  }

  override toJSON(): Record<string, unknown> {
    return super.toJSON();
  }
}

export interface VolumeTarget {
  volumeId: string;
  dataCenter: string;
  /** The S3 endpoint: RunPod's for the data center, or RUNPOD_S3_ENDPOINT_URL (the local emulator). */
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The volume's size in bytes, when known (for `du`'s alert and the room check before an upload). */
  sizeBytes?: number;
  /**
   * "backup" when the bucket is a backup store (backup-s3.ts: volumeId is then the bucket, dataCenter its region), so
   * that errors name the store's own settings; a RunPod volume otherwise.
   */
  role?: "volume" | "backup";
}

export interface TargetOptions {
  volumeId?: string;
  dataCenter?: string;
  sizeGb?: number;
  /** A Pulumi stack to read the volume and the S3 key from. */
  stack?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs `pulumi <args>` and returns stdout (tests inject it). */
  pulumi?: (args: string[]) => string;
}

const GB = 1024 ** 3;

function runPulumi(args: string[]): string {
  const run = spawnSync("pulumi", args, { encoding: "utf8", timeout: 120_000 });
  if (run.error) throw new VolumeError(`pulumi could not be run (${run.error.message}): install the Pulumi CLI or give --volume and the S3 key by environment`);
  if (run.status !== 0) throw new VolumeError(`pulumi ${args.slice(0, 3).join(" ")} failed: ${(run.stderr || run.stdout).trim().split("\n").slice(-3).join(" ")}`);
  return run.stdout;
}

/** Rejects a data center without the S3 API by name, listing those that have it. */
export function assertS3DataCenter(dataCenter: string): void {
  if (!hasS3Api(dataCenter)) {
    throw new VolumeError(
      `data center ${dataCenter} has no S3 API for network volumes, so this tool cannot reach a volume there; ` +
      `RunPod offers it in ${S3_DATA_CENTERS.join(", ")} (a volume cannot move: a new one in one of those, then push-data/restore)`,
    );
  }
}

export async function resolveTarget(options: TargetOptions): Promise<VolumeTarget> {
  const env = options.env ?? process.env;
  const pulumi = options.pulumi ?? runPulumi;
  let volumeId = options.volumeId ?? env.RUNPOD_VOLUME_ID;
  let dataCenter = options.dataCenter ?? env.RUNPOD_DATA_CENTER;
  let accessKeyId = env.RUNPOD_S3_ACCESS_KEY_ID;
  let secretAccessKey = env.RUNPOD_S3_SECRET_ACCESS_KEY;
  if (options.stack !== undefined) {
    const outputs = JSON.parse(pulumi(["stack", "output", "--json", "--stack", options.stack])) as Record<string, unknown>;
    volumeId ??= typeof outputs.volumeId === "string" ? outputs.volumeId : undefined;
    dataCenter ??= typeof outputs.dataCenter === "string" ? outputs.dataCenter : undefined;
    const config = (key: string) => {
      try {
        return pulumi(["config", "get", `metahuman:${key}`, "--stack", options.stack!]).trim() || undefined;
      } catch {
        return undefined;
      }
    };
    accessKeyId ??= config("s3AccessKeyId");
    secretAccessKey ??= config("s3SecretAccessKey");
  }
  if (!volumeId) throw new VolumeError("no volume: pass --volume <id>, set RUNPOD_VOLUME_ID, or --stack <name> to take the stack's volumeId output");
  if (!accessKeyId || !secretAccessKey) {
    throw new VolumeError(
      "no S3 API key: create one in RunPod's console (Settings → S3 API Keys; it is not your RunPod API key) and set " +
      "RUNPOD_S3_ACCESS_KEY_ID (user_…) and RUNPOD_S3_SECRET_ACCESS_KEY (rps_…), or `pulumi config set metahuman:s3AccessKeyId user_…` and " +
      "`pulumi config set --secret metahuman:s3SecretAccessKey` with --stack <name>",
    );
  }
  let sizeBytes = options.sizeGb !== undefined ? options.sizeGb * GB : undefined;
  if ((dataCenter === undefined || sizeBytes === undefined) && env.RUNPOD_API_KEY) {
    const rest = createRunPodRestClient({ apiKey: env.RUNPOD_API_KEY, ...(env.RUNPOD_API_URL ? { baseURL: env.RUNPOD_API_URL } : {}) });
    const volume = await rest.networkVolumes.get(volumeId).catch((err: Error) => {
      throw new VolumeError(`network volume ${volumeId} could not be looked up with RUNPOD_API_KEY: ${err.message}`, err);
    });
    dataCenter ??= volume.dataCenter;
    sizeBytes ??= volume.size * GB;
  }
  if (!dataCenter) throw new VolumeError(`the data center of volume ${volumeId} is unknown: pass --data-center <id>, set RUNPOD_DATA_CENTER, or set RUNPOD_API_KEY to look it up`);
  dataCenter = dataCenter.toUpperCase();
  assertS3DataCenter(dataCenter);
  const endpoint = env.RUNPOD_S3_ENDPOINT_URL || s3EndpointFor(dataCenter);
  return { volumeId, dataCenter, endpoint, credentials: { accessKeyId, secretAccessKey }, ...(sizeBytes !== undefined ? { sizeBytes } : {}) };
}
