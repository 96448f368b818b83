// backup, verify and restore: a dated copy of everything on the volume but the model caches, checkable on its own.
//   <dir>/metahuman-backup-<volumeId>-<YYYYMMDD-HHMMSSZ>/
//     files/<key>        every object, with the volume's modification time
//     MANIFEST.sha256    "<sha256>  <key>" per file: `cd files && sha256sum -c ../MANIFEST.sha256` checks it too
//     backup.json        volume, data center, when, how many files and bytes
// A backup is written under a ".incomplete" name and renamed when its manifest is complete, so an interrupted one
// never passes for a backup. Restore verifies the backup first, then pushes it back like push-data: a file changed
// on the volume since the backup was taken is kept unless --force. The same folder can live in an S3 bucket
// (backup-s3.ts): verify and restore then read a downloaded copy of it, with `label` naming the s3:// URL.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { isModelCache, walkFiles } from "./layout";
import { Progress, formatBytes, type ProgressSink } from "./progress";
import { carryOut, planUpload, safeRelative, type SyncResult } from "./sync";
import { VolumeError } from "./target";
import type { RemoteObject, VolumeClient } from "./volume-client";

export const MANIFEST = "MANIFEST.sha256";
export const INFO = "backup.json";

export interface BackupInfo {
  volumeId: string;
  dataCenter: string;
  /** When the backup started (ISO). */
  takenAt: string;
  files: number;
  bytes: number;
  /** What was left out. */
  excluded: string[];
}

export interface BackupOptions {
  out?: (line: string) => void;
  progress?: ProgressSink;
  now?: () => Date;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z").replace("T", "-");
}

/** `metahuman-backup-<volumeId>-<YYYYMMDD-HHMMSSZ>`: the backup's folder (or S3 prefix) name. */
export function backupName(volumeId: string, takenAt: Date): string {
  return `metahuman-backup-${volumeId}-${stamp(takenAt)}`;
}

/** What the volume holds but the model caches, checked to be plain paths before anything is written. */
export async function backupObjects(client: VolumeClient): Promise<RemoteObject[]> {
  const objects = (await client.list("")).filter((o) => !isModelCache(o.key));
  for (const o of objects) if (!safeRelative(o.key)) throw new VolumeError(`the volume holds a key that is not a plain path (${JSON.stringify(o.key)}): nothing was written`);
  return objects;
}

/** Downloads `objects` into `folder`/files, then writes the manifest and backup.json: a complete backup folder. */
export async function writeBackupFolder(
  client: VolumeClient, objects: RemoteObject[], folder: string, takenAt: Date, progressSink?: ProgressSink,
): Promise<BackupInfo> {
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  await mkdir(path.join(folder, "files"), { recursive: true, mode: 0o700 });
  const progress = new Progress(bytes, progressSink);
  const lines: string[] = [];
  for (const o of objects) {
    progress.file(o.key);
    const file = path.join(folder, "files", ...o.key.split("/"));
    await client.getFile(o, file, (n) => progress.add(n));
    lines.push(`${await sha256Of(file)}  ${o.key}`);
  }
  progress.finish();
  const info: BackupInfo = {
    volumeId: client.target.volumeId, dataCenter: client.target.dataCenter, takenAt: takenAt.toISOString(),
    files: objects.length, bytes, excluded: ["huggingface-cache/", "ollama/models/"],
  };
  await writeFile(path.join(folder, MANIFEST), lines.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  await writeFile(path.join(folder, INFO), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  return info;
}

export async function backup(client: VolumeClient, destination: string, options: BackupOptions = {}): Promise<{ dir: string; info: BackupInfo; seconds: number }> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const takenAt = (options.now ?? (() => new Date()))();
  const dir = path.join(path.resolve(destination), backupName(client.target.volumeId, takenAt));
  const partial = `${dir}.incomplete`;
  if (existsSync(dir)) throw new VolumeError(`${dir} already exists: nothing was written`);
  const objects = await backupObjects(client);
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  out(`backing up ${objects.length} file(s), ${formatBytes(bytes)} of volume ${client.target.volumeId} (model caches left out) into ${dir}`);
  await rm(partial, { recursive: true, force: true });
  const started = Date.now();
  const info = await writeBackupFolder(client, objects, partial, takenAt, options.progress);
  await rename(partial, dir);
  const seconds = (Date.now() - started) / 1000;
  out(`backup complete: ${dir} (${objects.length} file(s), ${formatBytes(bytes)}, ${seconds.toFixed(1)} s); check it any time with \`npm run volume -- verify-backup ${dir}\``);
  return { dir, info, seconds };
}

export interface VerifyResult {
  info: BackupInfo;
  files: number;
  problems: string[];
}

/** Every file against the manifest, and nothing in files/ the manifest does not name. `label` names it in messages. */
export async function verifyBackup(dir: string, label?: string): Promise<VerifyResult> {
  const root = path.resolve(dir);
  const manifestText = await readFile(path.join(root, MANIFEST), "utf8").catch(() => undefined);
  const infoText = await readFile(path.join(root, INFO), "utf8").catch(() => undefined);
  if (manifestText === undefined || infoText === undefined) {
    const name = label ?? root;
    throw new VolumeError(`${name} is not a complete backup (no ${MANIFEST} or ${INFO}${name.replace(/\/$/, "").endsWith(".incomplete") ? "; this one was interrupted" : ""})`);
  }
  const info = JSON.parse(infoText) as BackupInfo;
  const problems: string[] = [];
  const listed = new Map<string, string>();
  for (const line of manifestText.split("\n").filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (m === null || !safeRelative(m[2]!)) {
      problems.push(`${MANIFEST}: a line that is not "<sha256>  <path>": ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    listed.set(m[2]!, m[1]!);
  }
  const present = new Map((await walkFiles(path.join(root, "files")).catch(() => [])).map((f) => [f.rel, f]));
  for (const [key, sha] of listed) {
    const file = present.get(key);
    if (file === undefined) problems.push(`missing: ${key}`);
    else if ((await sha256Of(file.abs)) !== sha) problems.push(`damaged: ${key} (its SHA-256 is not the manifest's)`);
  }
  for (const key of present.keys()) if (!listed.has(key)) problems.push(`not in the manifest: ${key}`);
  if (listed.size !== info.files) problems.push(`${INFO} says ${info.files} file(s), the manifest lists ${listed.size}`);
  return { info, files: listed.size, problems };
}

export async function restore(
  client: VolumeClient, dir: string, options: BackupOptions & { force?: boolean; dryRun?: boolean; label?: string } = {},
): Promise<SyncResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const checked = await verifyBackup(dir, options.label);
  if (checked.problems.length > 0) {
    throw new VolumeError(`backup ${options.label ?? dir} does not match its manifest, so nothing was restored:\n  ${checked.problems.slice(0, 20).join("\n  ")}`);
  }
  const takenAt = new Date(checked.info.takenAt);
  out(`backup of volume ${checked.info.volumeId} taken ${checked.info.takenAt}: ${checked.files} file(s) verified; restoring to volume ${client.target.volumeId}`);
  // A file the volume changed after the backup was taken is newer than the backup: keep it unless --force.
  const plan = await planUpload(path.join(path.resolve(dir), "files"), "", client, (_local, remote) => remote.lastModified.getTime() > takenAt.getTime());
  return carryOut(plan, "up", async (entry, onBytes) => {
    await client.putFile(entry.local!.abs, entry.rel, onBytes);
  }, options);
}
