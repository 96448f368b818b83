// Backups in an S3 bucket of your own (AWS S3 or any S3-compatible store), off RunPod entirely:
//   s3://<bucket>/<prefix>/metahuman-backup-<volumeId>-<YYYYMMDD-HHMMSSZ>/{files/<key>, odd/…, MANIFEST.json, MANIFEST.sha256, backup.json}
// the same layout and the same manifests as a backup folder (backup.ts). Once uploaded, the backup is downloaded again
// and verified: "backup complete" means it restores. The store has its own endpoint,
// region and key (BACKUP_S3_ENDPOINT, BACKUP_S3_REGION, BACKUP_AWS_ACCESS_KEY_ID, BACKUP_AWS_SECRET_ACCESS_KEY): the
// volume's RunPod S3 key is never sent to it. S3 has no rename, so backup.json goes up last: a prefix without it is
// an interrupted backup, and verify-backup says so. verify-backup and restore download the backup into a private
// temporary folder and check it there, so what is restored is exactly what was verified.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { INFO, MANIFEST, MANIFEST_JSON, backupName, backupObjects, notBackedUpNote, verifyBackup, writeBackupFolder, type BackupInfo, type BackupOptions } from "./backup";
import { shown } from "./names";
import { Progress, formatBytes } from "./progress";
import { safeRelative } from "./sync";
import { VolumeError, type VolumeTarget } from "./target";
import { VolumeClient, type ClientOptions } from "./volume-client";

export interface S3Location {
  bucket: string;
  /** "" or ending in "/". */
  prefix: string;
}

/** `s3://bucket/some/prefix` → {bucket, "some/prefix/"}; undefined for anything that is not an s3:// URL. */
export function parseS3Url(text: string): S3Location | undefined {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(text);
  if (m === null) return undefined;
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new VolumeError(`${text}: ${JSON.stringify(bucket)} is not a bucket name (3–63 lower-case letters, digits, dots and hyphens); expected s3://<bucket>/<prefix>`);
  }
  const prefix = (m[2] ?? "").split("/").filter(Boolean);
  if (!prefix.every((s) => s !== "." && s !== "..")) throw new VolumeError(`${text}: the prefix must be a plain path`);
  return { bucket, prefix: prefix.length ? `${prefix.join("/")}/` : "" };
}

export const s3Url = (at: S3Location, rest = "") => `s3://${at.bucket}/${at.prefix}${rest}`;

export interface BackupStoreOptions {
  /** --backup-endpoint; default BACKUP_S3_ENDPOINT, then AWS S3 in the region. */
  endpoint?: string;
  /** --backup-region; default BACKUP_S3_REGION, then us-east-1. */
  region?: string;
  env?: NodeJS.ProcessEnv;
}

/** The backup bucket as a target for the S3 client, with the store's own key from the environment. */
export function backupStoreTarget(at: S3Location, options: BackupStoreOptions = {}): VolumeTarget {
  const env = options.env ?? process.env;
  const region = options.region || env.BACKUP_S3_REGION || "us-east-1";
  const endpoint = options.endpoint || env.BACKUP_S3_ENDPOINT || `https://s3.${region}.amazonaws.com`;
  if (!/^https?:\/\/[^\s/]+/.test(endpoint)) throw new VolumeError(`backup store endpoint ${JSON.stringify(endpoint)} is not an http(s) URL: check BACKUP_S3_ENDPOINT or --backup-endpoint`);
  const accessKeyId = env.BACKUP_AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.BACKUP_AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new VolumeError(
      `no key for the backup store ${s3Url(at)}: set BACKUP_AWS_ACCESS_KEY_ID and BACKUP_AWS_SECRET_ACCESS_KEY to a key of that store ` +
      "(its endpoint in BACKUP_S3_ENDPOINT, its region in BACKUP_S3_REGION, unless it is AWS S3 in us-east-1); the volume's RunPod S3 key is never used for it",
    );
  }
  return { volumeId: at.bucket, dataCenter: region, endpoint, credentials: { accessKeyId, secretAccessKey }, role: "backup" };
}

export function openBackupStore(at: S3Location, options: BackupStoreOptions = {}, clientOptions: ClientOptions = {}): VolumeClient {
  return new VolumeClient(backupStoreTarget(at, options), clientOptions);
}

/** A dated backup of the volume into the bucket: staged in a private temporary folder, then uploaded, backup.json last. */
export async function backupToS3(
  volume: VolumeClient, store: VolumeClient, at: S3Location, options: BackupOptions = {},
): Promise<{ url: string; info: BackupInfo; seconds: number }> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const takenAt = (options.now ?? (() => new Date()))();
  const base = `${at.prefix}${backupName(volume.target.volumeId, takenAt)}/`;
  const url = `s3://${at.bucket}/${base}`;
  // The store first: a wrong key or a missing bucket stops here, before anything is read from the volume.
  if ((await store.list(base)).length > 0) throw new VolumeError(`${url} already exists: nothing was written`);
  const objects = await backupObjects(volume);
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  out(`backing up ${objects.length} file(s), ${formatBytes(bytes)} of volume ${volume.target.volumeId} (model caches left out) to ${url} (${store.target.endpoint})`);
  const started = Date.now();
  const staging = await mkdtemp(path.join(tmpdir(), "metahuman-backup-"));
  let uploading = false;
  try {
    const info = await writeBackupFolder(volume, objects, staging, takenAt, options.progress, out);
    const staged = await verifyBackup(staging);
    if (staged.problems.length > 0) throw new VolumeError(`the backup staged in ${staging} does not verify, so nothing was uploaded:\n  ${staged.problems.slice(0, 20).join("\n  ")}`);
    const progress = new Progress(info.bytes, options.progress);
    uploading = true;
    for (const e of staged.entries) {
      progress.file(shown(e.key));
      await store.putFile(path.join(staging, ...e.file.split("/")), `${base}${e.file}`, (n) => progress.add(n));
    }
    progress.finish();
    await store.putFile(path.join(staging, MANIFEST), `${base}${MANIFEST}`);
    await store.putFile(path.join(staging, MANIFEST_JSON), `${base}${MANIFEST_JSON}`);
    await store.putFile(path.join(staging, INFO), `${base}${INFO}`);
    uploading = false;
    // What the store now holds, read back and checked: the backup restores, or this says why not.
    const landed = await withDownloadedBackup(store, { bucket: at.bucket, prefix: base }, (dir) => verifyBackup(dir, url));
    if (landed.problems.length > 0) throw new VolumeError(`the backup uploaded to ${url} does not verify when read back:\n  ${landed.problems.slice(0, 20).join("\n  ")}`);
    const seconds = (Date.now() - started) / 1000;
    out(`backup complete and verified: ${url} (${info.files} file(s), ${formatBytes(info.bytes)}, ${seconds.toFixed(1)} s${notBackedUpNote(info)}); check it any time with \`npm run volume -- verify-backup ${url}\``);
    if (info.notBackedUp?.length) throw new VolumeError(`${info.notBackedUp.length} file(s) of the volume are not in the backup ${url} (listed above); the other ${info.files} are`);
    return { url, info, seconds };
  } catch (err) {
    throw uploading && err instanceof VolumeError
      ? new VolumeError(`${err.message}\n(the backup at ${url} is incomplete: it has no ${INFO}, so verify-backup and restore refuse it)`, err)
      : err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Downloads the backup at `at` (its prefix is the backup's own) into a new private temporary folder and hands it to
 * `use`; the folder is removed afterwards. A prefix that is not a complete backup is refused, naming the backups under it.
 */
export async function withDownloadedBackup<T>(store: VolumeClient, at: S3Location, use: (dir: string, url: string) => Promise<T>): Promise<T> {
  const url = s3Url(at);
  const objects = await store.list(at.prefix);
  if (!objects.some((o) => o.key === `${at.prefix}${INFO}`)) {
    const found = objects.map((o) => o.key).filter((k) => k.endsWith(`/${INFO}`)).map((k) => `s3://${at.bucket}/${k.slice(0, -INFO.length)}`);
    if (found.length > 0) throw new VolumeError(`${url} is not a backup itself; the backups under it:\n  ${found.sort().join("\n  ")}`);
    throw new VolumeError(objects.length > 0
      ? `${url} is not a complete backup (no ${INFO}: it was interrupted, or it is not a backup)`
      : `${url} holds nothing: no backup there`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), "metahuman-restore-"));
  try {
    for (const o of objects) {
      const rel = o.key.slice(at.prefix.length);
      if (!safeRelative(rel)) throw new VolumeError(`${url} holds a key that is not a plain path (${shown(o.key)}): nothing was used`);
      await store.getFile(o, path.join(dir, ...rel.split("/")));
    }
    return await use(dir, url);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
