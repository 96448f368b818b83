// `npm run volume -- <command>`: moves a model and a person's data to and from a network volume over RunPod's
// S3 API. scripts/volume.ts only calls `main`. Results go to stdout, progress to stderr; exit 1 on an error (its
// message says what to do), 2 when `du` raises the storage alert.
import { parseArgs } from "node:util";
import { MetaHumanError } from "../common/errors";
import { backup, restore, verifyBackup } from "./backup";
import { backupToS3, openBackupStore, parseS3Url, withDownloadedBackup, type BackupStoreOptions } from "./backup-s3";
import { METAHUMAN_PREFIX } from "./layout";
import { terminalSafe } from "./names";
import { pushModel } from "./push-model";
import { pullData, pushData } from "./sync";
import { resolveTarget, VolumeError, type TargetOptions } from "./target";
import { du, ls } from "./usage";
import { MIB, VolumeClient } from "./volume-client";

export const USAGE = `npm run volume -- <command> [options]

commands
  push-model <hf-id>[@revision] [--from <dir>]   a model into the volume's Hugging Face cache (HF_HUB_CACHE)
  push-data <dir>                               your MetaHuman OS root (etc/, profiles/...) up to metahuman/
  pull-data <dir>                               metahuman/ on the volume down into <dir>
  backup <dir|s3://bucket/prefix>               a dated, verifiable copy of everything but the model caches
  verify-backup <backup-dir|s3-url>             check a backup against its SHA-256 manifest
  restore <backup-dir|s3-url>                   put a verified backup back on the volume
  ls [prefix]                                   the volume's files
  du                                            how full the volume is (alert over 80 %)

options
  --volume <id>          the network volume (or RUNPOD_VOLUME_ID, or --stack)
  --data-center <id>     its data center (or RUNPOD_DATA_CENTER; looked up with RUNPOD_API_KEY otherwise)
  --stack <name>         take the volume, data center and S3 key from a Pulumi stack's outputs and config
  --size-gb <n>          the volume's size, for du and the room check (looked up with RUNPOD_API_KEY otherwise)
  --force                overwrite files that are newer on the destination
  --dry-run              list what would be transferred, transfer nothing
  --part-size-mib <n>    multipart part size (default 16, at least 5)
  --concurrency <n>      parts in flight at once (default 4)
  --backup-endpoint <url> an s3:// backup's store (or BACKUP_S3_ENDPOINT; default AWS S3)
  --backup-region <id>   its region (or BACKUP_S3_REGION; default us-east-1)

S3 API key (RunPod console → Settings → S3 API Keys; not your RunPod API key):
  RUNPOD_S3_ACCESS_KEY_ID=user_…  RUNPOD_S3_SECRET_ACCESS_KEY=rps_…
  or pulumi config set metahuman:s3AccessKeyId user_… ; pulumi config set --secret metahuman:s3SecretAccessKey
RUNPOD_S3_ENDPOINT_URL overrides https://s3api-<dc>.runpod.io/ (the local emulator: the data center's URL that npm run emulator or npm run local prints).
An s3:// backup's own key (never the volume's): BACKUP_AWS_ACCESS_KEY_ID=…  BACKUP_AWS_SECRET_ACCESS_KEY=…`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env?: NodeJS.ProcessEnv;
  progress?: { isTTY?: boolean; write(text: string): unknown };
}

// Keys are printed through `shown`; this is the last guard: nothing from outside drives the terminal.
const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${terminalSafe(line)}\n`),
  err: (line) => process.stderr.write(`${terminalSafe(line)}\n`),
};

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        volume: { type: "string" }, "data-center": { type: "string" }, stack: { type: "string" }, "size-gb": { type: "string" },
        from: { type: "string" }, force: { type: "boolean" }, "dry-run": { type: "boolean" },
        "part-size-mib": { type: "string" }, concurrency: { type: "string" }, help: { type: "boolean", short: "h" },
        "backup-endpoint": { type: "string" }, "backup-region": { type: "string" },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [command, arg] = positionals;
  if (values.help || command === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 1;
  }
  const number = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n <= 0) throw new VolumeError(`--${name} ${text}: expected a positive number${min > 0 ? ` of at least ${min}` : ""}`);
    return n;
  };
  const need = (what: string) => {
    if (arg === undefined) throw new VolumeError(`${command} needs ${what}\n\n${USAGE}`);
    return arg;
  };
  let client: VolumeClient | undefined;
  let store: VolumeClient | undefined;
  const storeOptions: BackupStoreOptions = {
    env: io.env ?? process.env,
    ...(values["backup-endpoint"] ? { endpoint: values["backup-endpoint"] } : {}),
    ...(values["backup-region"] ? { region: values["backup-region"] } : {}),
  };
  try {
    const s3Backup = ["backup", "verify-backup", "restore"].includes(command) && arg !== undefined ? parseS3Url(arg) : undefined;
    if (s3Backup) store = openBackupStore(s3Backup, storeOptions);
    if (command === "verify-backup") {
      const result = s3Backup
        ? await withDownloadedBackup(store!, s3Backup, (dir, url) => verifyBackup(dir, url))
        : await verifyBackup(need("the backup's folder"));
      for (const p of result.problems) io.out(p);
      io.out(result.problems.length === 0
        ? `OK: ${result.files} file(s) match the manifest (volume ${result.info.volumeId}, taken ${result.info.takenAt})`
        : `FAILED: ${result.problems.length} problem(s)`);
      return result.problems.length === 0 ? 0 : 1;
    }
    const known = ["push-model", "push-data", "pull-data", "backup", "restore", "ls", "du"];
    if (!known.includes(command)) throw new VolumeError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    const targetOptions: TargetOptions = { env: io.env ?? process.env };
    if (values.volume) targetOptions.volumeId = values.volume;
    if (values["data-center"]) targetOptions.dataCenter = values["data-center"];
    if (values.stack) targetOptions.stack = values.stack;
    const sizeGb = number("size-gb", values["size-gb"], 0);
    if (sizeGb !== undefined) targetOptions.sizeGb = sizeGb;
    const partMib = number("part-size-mib", values["part-size-mib"], 5);
    const concurrency = number("concurrency", values.concurrency, 1);
    client = new VolumeClient(await resolveTarget(targetOptions), {
      ...(partMib !== undefined ? { partSize: Math.round(partMib * MIB) } : {}),
      ...(concurrency !== undefined ? { concurrency: Math.round(concurrency) } : {}),
    });
    const sync = { force: values.force ?? false, dryRun: values["dry-run"] ?? false, out: io.out, ...(io.progress ? { progress: io.progress } : {}) };
    switch (command) {
      case "push-model":
        await pushModel(client, need("a Hugging Face model id"), { out: io.out, ...(values.from ? { from: values.from } : {}), ...(io.progress ? { progress: io.progress } : {}) });
        return 0;
      case "push-data":
        await pushData(client, need("the folder of your MetaHuman OS data"), METAHUMAN_PREFIX, sync);
        return 0;
      case "pull-data":
        await pullData(client, need("a folder to put the data in"), METAHUMAN_PREFIX, sync);
        return 0;
      case "backup":
        if (s3Backup) await backupToS3(client, store!, s3Backup, { out: io.out, ...(io.progress ? { progress: io.progress } : {}) });
        else await backup(client, need("a folder (or s3://bucket/prefix) to write the backup into"), { out: io.out, ...(io.progress ? { progress: io.progress } : {}) });
        return 0;
      case "restore":
        if (s3Backup) await withDownloadedBackup(store!, s3Backup, (dir, url) => restore(client!, dir, { ...sync, label: url }));
        else await restore(client, need("the backup's folder"), sync);
        return 0;
      case "ls":
        await ls(client, arg ?? "", io.out);
        return 0;
      default:
        return (await du(client, io.out)).alert ? 2 : 0;
    }
  } catch (err) {
    const message = MetaHumanError.isInstance(err) ? err.message : client ? client.explain(err, "failed").message : String((err as Error)?.message ?? err);
    io.err(`volume ${command}: ${message}`);
    return 1;
  } finally {
    client?.close();
    store?.close();
  }
}
