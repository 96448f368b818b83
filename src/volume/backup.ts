// backup, verify and restore: a dated copy of everything on the volume but the model caches, checkable on its own.
//   <dir>/metahuman-backup-<volumeId>-<YYYYMMDD-HHMMSSZ>/
//     files/<key>        every object whose key is a plain path here, with the volume's modification time
//     odd/<sha256(key)>  every other object (a key a folder cannot hold: a file where another key needs a folder, a
//                        name too long for this file system, "." or ".." segments): its bytes, named by its key's hash
//     MANIFEST.json      the authority: one entry per object, {key, file, sha256, size, lastModified}; JSON holds any
//                        key (newline, backslash, a name like our own temporary files) exactly
//     MANIFEST.sha256    the same sums for `cd files && sha256sum -c ../MANIFEST.sha256` (GNU's escaped lines)
//     backup.json        volume, data center, when, how many files and bytes
// A backup is written under a ".incomplete" name, verified, and renamed only then: "backup complete" means it
// verifies, so it restores. A key that cannot be read is reported by name and the others are backed up.
// Restore verifies the backup first, then pushes each object back under its key. Which copy is newer is decided by the
// volume's own clock: a file whose time on the volume is later than the time the volume gave it when it was backed up
// was changed since, and is kept unless --force. backup.json's takenAt decides nothing, and a time that is not a date
// or lies in the future makes the backup fail verification by name. The same folder can live in an S3 bucket
// (backup-s3.ts): verify and restore then read a downloaded copy of it, with `label` naming the s3:// URL.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../common/atomic-file";
import { isModelCache, walkTree, type LocalFile } from "./layout";
import { localCode, shown } from "./names";
import { Progress, formatBytes, type ProgressSink } from "./progress";
import { carryOut, safeRelative, sameContent, when, type PlanEntry, type SyncResult } from "./sync";
import { VolumeError } from "./target";
import { saneTime, type RemoteObject, type VolumeClient } from "./volume-client";

export const MANIFEST = "MANIFEST.sha256";
export const MANIFEST_JSON = "MANIFEST.json";
export const INFO = "backup.json";

export interface BackupInfo {
  volumeId: string;
  dataCenter: string;
  /** When the backup started (ISO), by this machine's clock: shown, never used to decide what is newer. */
  takenAt: string;
  files: number;
  bytes: number;
  /** What was left out. */
  excluded: string[];
  /** Keys that could not be read from the volume, each with why (absent when none). */
  notBackedUp?: { key: string; reason: string }[];
}

export interface ManifestEntry {
  /** The object's key on the volume, exactly. */
  key: string;
  /** Where its bytes are inside the backup: `files/<key>` or `odd/<sha256 of the key>`. */
  file: string;
  sha256: string;
  size: number;
  /** The object's modification time on the volume when it was backed up (ISO): the volume's clock, not ours. */
  lastModified: string;
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

/** What the volume holds but the model caches. Every key is taken, whatever it looks like. */
export async function backupObjects(client: VolumeClient): Promise<RemoteObject[]> {
  return (await client.list("")).filter((o) => !isModelCache(o.key));
}

const NAME_MAX = 255;
const oddFile = (key: string) => `odd/${createHash("sha256").update(key, "utf8").digest("hex")}`;

/**
 * Where each key's bytes go in the backup: `files/<key>` when the key is a plain path whose segments this file system
 * takes and no other key needs it as a folder; `odd/<hash>` otherwise.
 */
export function backupLayout(keys: readonly string[]): Map<string, string> {
  const folders = new Set<string>();
  for (const key of keys) {
    const segments = key.split("/");
    for (let i = 1; i < segments.length; i++) folders.add(segments.slice(0, i).join("/"));
  }
  return new Map(keys.map((key) => {
    const plain = safeRelative(key) && !folders.has(key) && key.split("/").every((s) => Buffer.byteLength(s) <= NAME_MAX);
    return [key, plain ? `files/${key}` : oddFile(key)];
  }));
}

/** GNU coreutils' checksum line: a name holding a backslash, newline or carriage return is escaped, the line marked. */
export function sumLine(sha: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${sha}  ${name}`;
  return `\\${sha}  ${name.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")}`;
}

function parseSumLine(line: string): { sha: string; name: string } | undefined {
  const escaped = line.startsWith("\\");
  const m = /^([0-9a-f]{64}) [ *](.+)$/s.exec(escaped ? line.slice(1) : line);
  if (m === null) return undefined;
  const name = escaped ? m[2]!.replace(/\\(.)/g, (_all, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c)) : m[2]!;
  return { sha: m[1]!, name };
}

/**
 * Downloads `objects` into `folder` (files/ and odd/), then writes the manifests and backup.json. A key that cannot be
 * read or written is reported and left out; the others are all there.
 */
export async function writeBackupFolder(
  client: VolumeClient, objects: RemoteObject[], folder: string, takenAt: Date, progressSink?: ProgressSink,
  out: (line: string) => void = () => {},
): Promise<BackupInfo> {
  const total = objects.reduce((n, o) => n + o.size, 0);
  await mkdir(path.join(folder, "files"), { recursive: true, mode: 0o700 });
  const progress = new Progress(total, progressSink);
  const layout = backupLayout(objects.map((o) => o.key));
  const entries: ManifestEntry[] = [];
  const notBackedUp: { key: string; reason: string }[] = [];
  for (const o of objects) {
    progress.file(shown(o.key));
    let file = layout.get(o.key)!;
    try {
      try {
        await client.getFile(o, path.join(folder, ...file.split("/")), (n) => progress.add(n));
      } catch (err) {
        // A name this file system refuses after all (case-folding, a stricter limit): its bytes go by hash instead.
        if (file.startsWith("odd/") || localCode((err as { cause?: unknown }).cause ?? err) === undefined) throw err;
        file = oddFile(o.key);
        await client.getFile(o, path.join(folder, ...file.split("/")), (n) => progress.add(n));
      }
    } catch (err) {
      const status = ((err as { cause?: unknown }).cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
      if (status !== 404 && localCode((err as { cause?: unknown }).cause ?? err) === undefined) throw err;
      notBackedUp.push({ key: o.key, reason: (err as Error).message });
      out(`FAILED    ${shown(o.key)}  (${(err as Error).message}): not in this backup`);
      continue;
    }
    const sha256 = await sha256Of(path.join(folder, ...file.split("/")));
    entries.push({ key: o.key, file, sha256, size: o.size, lastModified: o.lastModified.toISOString() });
  }
  progress.finish();
  const info: BackupInfo = {
    volumeId: client.target.volumeId, dataCenter: client.target.dataCenter, takenAt: takenAt.toISOString(),
    files: entries.length, bytes: entries.reduce((n, e) => n + e.size, 0), excluded: ["huggingface-cache/", "ollama/models/"],
    ...(notBackedUp.length > 0 ? { notBackedUp } : {}),
  };
  const sums = entries.map((e) => sumLine(e.sha256, e.file.startsWith("files/") ? e.file.slice("files/".length) : `../${e.file}`));
  await writeFileAtomic(path.join(folder, MANIFEST), sums.map((l) => `${l}\n`).join(""));
  await writeFileAtomic(path.join(folder, MANIFEST_JSON), `${JSON.stringify({ format: 1, files: entries }, null, 1)}\n`);
  await writeFileAtomic(path.join(folder, INFO), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/** The end of a backup: what was left out, named. */
export function notBackedUpNote(info: BackupInfo): string {
  const n = info.notBackedUp?.length ?? 0;
  return n === 0 ? "" : `; ${n} file(s) could not be backed up (listed above, and in ${INFO} under notBackedUp)`;
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
  const info = await writeBackupFolder(client, objects, partial, takenAt, options.progress, out);
  const checked = await verifyBackup(partial);
  if (checked.problems.length > 0) {
    throw new VolumeError(`the backup just written in ${partial} does not verify, so it is left incomplete:\n  ${checked.problems.slice(0, 20).join("\n  ")}`);
  }
  await rename(partial, dir);
  const seconds = (Date.now() - started) / 1000;
  out(`backup complete and verified: ${dir} (${info.files} file(s), ${formatBytes(info.bytes)}, ${seconds.toFixed(1)} s${notBackedUpNote(info)}); check it any time with \`npm run volume -- verify-backup ${dir}\``);
  if (info.notBackedUp?.length) throw new VolumeError(`${info.notBackedUp.length} file(s) of the volume are not in the backup ${dir} (listed above); the other ${info.files} are`);
  return { dir, info, seconds };
}

export interface VerifyResult {
  info: BackupInfo;
  files: number;
  entries: ManifestEntry[];
  problems: string[];
}

const isoTime = z.string().max(64);
const infoSchema = z.object({
  volumeId: z.string(), dataCenter: z.string(), takenAt: isoTime, files: z.number().int().min(0), bytes: z.number().min(0),
  excluded: z.array(z.string()).default([]),
  notBackedUp: z.array(z.object({ key: z.string(), reason: z.string() })).optional(),
}).passthrough();
const entrySchema = z.object({
  key: z.string().min(1), file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().min(0), lastModified: isoTime,
});
const manifestSchema = z.object({ format: z.literal(1), files: z.array(entrySchema) });

function zodWords(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");
}

/** Why a time written in a backup cannot be believed, or undefined. */
function timeProblem(where: string, text: string): string | undefined {
  const d = new Date(text);
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(text) && saneTime(d)) return undefined;
  return `${where} is ${JSON.stringify(text)}: not a time this backup could hold (an ISO 8601 UTC time after 1980 and not after this machine's clock, now ${when(new Date())})`;
}

/** Reads and checks a JSON file of the backup: a damaged one is named, with what is wrong in it. */
async function readJson<T>(file: string, name: string, label: string, schema: z.ZodType<T>): Promise<T> {
  const text = await readFile(file, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new VolumeError(`${name} of backup ${label} is not valid JSON (${(err as Error).message}): the backup is damaged; use another one`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new VolumeError(`${name} of backup ${label} is not a backup's ${name} (${zodWords(parsed.error)}): the backup is damaged; use another one`);
  return parsed.data;
}

/**
 * Every file against the manifest, nothing in the backup the manifest does not name, no link anywhere, and every time
 * in it a believable one. `label` names it in messages. A backup of the older format (MANIFEST.sha256 alone) is read
 * from its sums, with its files' own times standing for the volume's.
 */
export async function verifyBackup(dir: string, label?: string): Promise<VerifyResult> {
  const root = path.resolve(dir);
  const name = label ?? root;
  const has = async (f: string) => (await stat(path.join(root, f)).catch(() => undefined))?.isFile() ?? false;
  const hasJson = await has(MANIFEST_JSON);
  if (!(await has(INFO)) || (!hasJson && !(await has(MANIFEST)))) {
    throw new VolumeError(`${name} is not a complete backup (no ${MANIFEST_JSON} or ${INFO}${name.replace(/\/$/, "").endsWith(".incomplete") ? "; this one was interrupted" : ""})`);
  }
  const info = await readJson(path.join(root, INFO), INFO, name, infoSchema) as BackupInfo;
  const problems: string[] = [];
  const takenAtProblem = timeProblem(`${INFO}: takenAt`, info.takenAt);
  if (takenAtProblem) problems.push(takenAtProblem);
  let entries: ManifestEntry[];
  if (hasJson) {
    entries = (await readJson(path.join(root, MANIFEST_JSON), MANIFEST_JSON, name, manifestSchema)).files;
  } else {
    entries = [];
    for (const line of (await readFile(path.join(root, MANIFEST), "utf8")).split("\n").filter(Boolean)) {
      const sum = parseSumLine(line);
      if (sum === undefined || !safeRelative(sum.name)) {
        problems.push(`${MANIFEST}: a line that is not "<sha256>  <path>": ${shown(line.slice(0, 80))}`);
        continue;
      }
      const onDisk = await stat(path.join(root, "files", ...sum.name.split("/"))).catch(() => undefined);
      entries.push({ key: sum.name, file: `files/${sum.name}`, sha256: sum.sha, size: onDisk?.size ?? -1, lastModified: (onDisk?.mtime ?? new Date(0)).toISOString() });
    }
  }
  const walked = await walkTree(root, { followLinks: false }).catch((): { files: LocalFile[]; skipped: { rel: string; reason: string }[] } => ({ files: [], skipped: [] }));
  for (const s of walked.skipped) problems.push(`not a plain file: ${shown(s.rel)} (${s.reason})`);
  const present = new Map(walked.files.filter((f) => f.rel.startsWith("files/") || f.rel.startsWith("odd/")).map((f) => [f.rel, f]));
  const listed = new Set<string>();
  const keys = new Set<string>();
  for (const e of entries) {
    if (keys.has(e.key)) problems.push(`${MANIFEST_JSON}: ${shown(e.key)} is listed twice`);
    keys.add(e.key);
    const expected = e.file.startsWith("odd/") ? oddFile(e.key) : `files/${e.key}`;
    if (e.file !== expected || (e.file.startsWith("files/") && !safeRelative(e.key))) {
      problems.push(`${MANIFEST_JSON}: ${shown(e.key)} points at ${shown(e.file)}, not at ${shown(expected)}`);
      continue;
    }
    listed.add(e.file);
    const timeIssue = hasJson ? timeProblem(`the volume's time of ${shown(e.key)}`, e.lastModified) : undefined;
    if (timeIssue) problems.push(timeIssue);
    const file = present.get(e.file);
    if (file === undefined) problems.push(`missing: ${shown(e.key)}`);
    else if (hasJson && file.size !== e.size) problems.push(`damaged: ${shown(e.key)} (${file.size} bytes, the manifest says ${e.size})`);
    else if ((await sha256Of(file.abs)) !== e.sha256) problems.push(`damaged: ${shown(e.key)} (its SHA-256 is not the manifest's)`);
  }
  for (const rel of present.keys()) if (!listed.has(rel)) problems.push(`not in the manifest: ${shown(rel.startsWith("files/") ? rel.slice("files/".length) : rel)}`);
  if (entries.length !== info.files) problems.push(`${INFO} says ${info.files} file(s), the manifest lists ${entries.length}`);
  return { info, files: entries.length, entries, problems };
}

export async function restore(
  client: VolumeClient, dir: string, options: BackupOptions & { force?: boolean; dryRun?: boolean; label?: string } = {},
): Promise<SyncResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const checked = await verifyBackup(dir, options.label);
  if (checked.problems.length > 0) {
    throw new VolumeError(`backup ${options.label ?? dir} does not match its manifest, so nothing was restored:\n  ${checked.problems.slice(0, 20).join("\n  ")}`);
  }
  out(`backup of volume ${checked.info.volumeId} taken ${checked.info.takenAt}: ${checked.files} file(s) verified; restoring to volume ${client.target.volumeId}`);
  const root = path.resolve(dir);
  const remotes = new Map((await client.list("")).map((r) => [r.key, r]));
  const plan: PlanEntry[] = [];
  for (const e of checked.entries) {
    const backedUpAt = new Date(e.lastModified);
    const local: LocalFile = { rel: e.key, abs: path.join(root, ...e.file.split("/")), size: e.size, mtime: backedUpAt };
    const remote = remotes.get(e.key);
    if (remote === undefined) plan.push({ rel: e.key, action: "copy", reason: "not on the volume", bytes: e.size, local });
    else if (await sameContent(local, remote)) plan.push({ rel: e.key, action: "same", reason: "identical", bytes: 0, local, remote });
    else if (!saneTime(remote.lastModified)) {
      plan.push({ rel: e.key, action: "conflict", reason: `its time on the volume (${Number.isFinite(remote.lastModified.getTime()) ? when(remote.lastModified) : "not a date"}) is not a believable one, so times cannot tell which is newer`, bytes: e.size, local, remote });
    } else if (remote.lastModified.getTime() > backedUpAt.getTime()) {
      // The volume's clock both times: its file changed after the backup read it.
      plan.push({ rel: e.key, action: "conflict", reason: `changed on the volume since the backup (${when(remote.lastModified)} > ${when(backedUpAt)})`, bytes: e.size, local, remote });
    } else plan.push({ rel: e.key, action: "copy", reason: "older on the volume than in the backup", bytes: e.size, local, remote });
  }
  return carryOut(plan, "up", async (entry, onBytes) => {
    await client.putFile(entry.local!.abs, entry.rel, onBytes);
  }, options);
}
