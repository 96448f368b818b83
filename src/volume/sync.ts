// push-data and pull-data (and restore, which is a push of a backup): a plan first, comparing each file on both
// sides by size and MD5 and, where they differ, by modification time; then the transfers. A file is never
// overwritten by an older one without --force: if the plan finds any such file, nothing at all is transferred and
// every one of them is listed. Files on one side only are copied to the other, never deleted.
// Times are the volume's and this machine's own: a time that is not a date, or lies in the future, decides nothing,
// and such a file is kept like a newer one. Links are never followed out of the tree nor written through (layout.ts),
// and each one left out is listed, in a dry run too. A file that cannot be written here (its name too long for this
// file system, a file where a folder must be) is reported by name and the others still go.
import { lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { VolumeError } from "./target";
import { Progress, formatBytes, type ProgressSink } from "./progress";
import { walkTree, type LocalFile } from "./layout";
import { localCode, shown } from "./names";
import { fileMd5, isMd5, saneTime, type RemoteObject, type VolumeClient } from "./volume-client";

export type Action = "copy" | "same" | "conflict" | "skip";
export interface PlanEntry {
  rel: string;
  action: Action;
  /** Why: "new", "older on the destination", "newer on the destination (…)". */
  reason: string;
  bytes: number;
  local?: LocalFile;
  remote?: RemoteObject;
}

export interface SyncOptions {
  force?: boolean;
  dryRun?: boolean;
  out?: (line: string) => void;
  progress?: ProgressSink;
}

export interface SyncResult {
  copied: number;
  same: number;
  bytes: number;
  seconds: number;
  plan: PlanEntry[];
  /** Entries left out (links, names that are not plain paths here). */
  skipped: number;
  /** Files that could not be transferred, each with its reason (the rest were). */
  failed: { rel: string; message: string }[];
}

export async function sameContent(local: LocalFile, remote: RemoteObject): Promise<boolean> {
  if (local.size !== remote.size) return false;
  // RunPod's and the emulator's ETag is the file's MD5; anything else cannot be compared without the bytes.
  return isMd5(remote.etag) && (await fileMd5(local.abs)) === remote.etag;
}

export const when = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Why a time decides nothing ("…"), or undefined when it is a time this tool believes. */
function insaneTime(d: Date, side: string): string | undefined {
  if (saneTime(d)) return undefined;
  const text = Number.isFinite(d.getTime()) ? when(d) : "not a date";
  return `its time ${side} (${text}) is not a believable one (this machine's clock says ${when(new Date())}), so times cannot tell which is newer`;
}

/** Upload plan: `destinationNewer(local, remote)` says when the volume's copy must be kept (true), or why (a string). */
export async function planUpload(
  localRoot: string, remotePrefix: string, client: VolumeClient,
  destinationNewer: (local: LocalFile, remote: RemoteObject) => boolean | string = (l, r) => r.lastModified.getTime() > l.mtime.getTime(),
  keep: (rel: string) => boolean = () => true,
): Promise<PlanEntry[]> {
  const walked = await walkTree(localRoot);
  const locals = walked.files.filter((f) => keep(f.rel));
  const remotes = new Map((await client.list(remotePrefix)).map((r) => [r.key.slice(remotePrefix.length), r]));
  const plan: PlanEntry[] = walked.skipped.map((s) => ({ rel: s.rel, action: "skip" as const, reason: s.reason, bytes: 0 }));
  for (const local of locals) {
    const remote = remotes.get(local.rel);
    if (remote === undefined) plan.push({ rel: local.rel, action: "copy", reason: "new", bytes: local.size, local });
    else if (await sameContent(local, remote)) plan.push({ rel: local.rel, action: "same", reason: "identical", bytes: 0, local, remote });
    else {
      const odd = insaneTime(remote.lastModified, "on the volume") ?? insaneTime(local.mtime, "here");
      const newer = odd ?? destinationNewer(local, remote);
      if (typeof newer === "string") plan.push({ rel: local.rel, action: "conflict", reason: newer, bytes: local.size, local, remote });
      else if (newer) plan.push({ rel: local.rel, action: "conflict", reason: `newer on the volume (${when(remote.lastModified)} > ${when(local.mtime)})`, bytes: local.size, local, remote });
      else plan.push({ rel: local.rel, action: "copy", reason: "older on the volume", bytes: local.size, local, remote });
    }
  }
  return plan;
}

export async function planDownload(localRoot: string, remotePrefix: string, client: VolumeClient): Promise<PlanEntry[]> {
  const walked = await walkTree(localRoot).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { files: [] as LocalFile[], skipped: [] };
    throw err;
  });
  const locals = new Map(walked.files.map((f) => [f.rel, f]));
  const links = new Map(walked.skipped.map((s) => [s.rel, s.reason]));
  const plan: PlanEntry[] = [];
  for (const remote of await client.list(remotePrefix)) {
    const rel = remote.key.slice(remotePrefix.length);
    if (!safeRelative(rel)) {
      plan.push({ rel, action: "skip", reason: `not a plain path here (${PLAIN_PATH})`, bytes: 0, remote });
      continue;
    }
    if (links.has(rel)) {
      plan.push({ rel, action: "skip", reason: `here it is ${links.get(rel)}; not written through`, bytes: 0, remote });
      continue;
    }
    const local = locals.get(rel);
    if (local === undefined) plan.push({ rel, action: "copy", reason: "new", bytes: remote.size, remote });
    else if (await sameContent(local, remote)) plan.push({ rel, action: "same", reason: "identical", bytes: 0, local, remote });
    else {
      const odd = insaneTime(remote.lastModified, "on the volume") ?? insaneTime(local.mtime, "here");
      if (odd !== undefined) plan.push({ rel, action: "conflict", reason: odd, bytes: remote.size, local, remote });
      else if (local.mtime.getTime() > remote.lastModified.getTime()) {
        plan.push({ rel, action: "conflict", reason: `newer here (${when(local.mtime)} > ${when(remote.lastModified)})`, bytes: remote.size, local, remote });
      } else plan.push({ rel, action: "copy", reason: "older here", bytes: remote.size, local, remote });
    }
  }
  return plan;
}

const PLAIN_PATH = "segments separated by /, none empty, . or ..";

/**
 * A key that is a path inside a folder here: segments separated by "/", none empty, "." or "..". A backslash is an
 * ordinary character on Linux and macOS; on Windows it is a separator, so there it is refused.
 */
export function safeRelative(rel: string): boolean {
  if (process.platform === "win32" && /[\\:*?"<>|]/.test(rel)) return false;
  return rel !== "" && !rel.startsWith("/") && !rel.includes("\0") && rel.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/**
 * Refuses to write `rel` under `root` through a link: every folder on the way that exists must be a real folder,
 * and the file itself, if it exists, a real file.
 */
export async function assertNoLinkOnTheWay(root: string, rel: string): Promise<void> {
  const segments = rel.split("/");
  let at = root;
  for (const [i, segment] of segments.entries()) {
    at = path.join(at, segment);
    const info = await lstat(at).catch(() => undefined);
    if (info === undefined) return;
    if (info.isSymbolicLink()) {
      const what = i === segments.length - 1 ? "the file" : "a folder on its way";
      throw new VolumeError(`${shown(rel)}: ${what}, ${shown(segments.slice(0, i + 1).join("/"))}, is a symbolic link here: not written through it (move the link aside to pull this file)`);
    }
  }
}

function report(plan: PlanEntry[], verb: string, out: (line: string) => void, dryRun: boolean, force: boolean): void {
  for (const entry of plan) {
    if (entry.action === "same") continue;
    if (entry.action === "skip") {
      out(`${"skip".padEnd(9)} ${shown(entry.rel)}  (${entry.reason})`);
      continue;
    }
    const tag = entry.action === "conflict" ? (force ? "overwrite" : "KEEP") : verb;
    if (dryRun || entry.action === "conflict") out(`${tag.padEnd(9)} ${shown(entry.rel)}  (${entry.reason}, ${formatBytes(entry.bytes)})`);
  }
}

/** Refuses a plan with conflicts (unless forced), and carries it out otherwise. */
export async function carryOut(
  plan: PlanEntry[], direction: "up" | "down", transfer: (entry: PlanEntry, onBytes: (n: number) => void) => Promise<void>, options: SyncOptions,
): Promise<SyncResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const force = options.force ?? false;
  report(plan, direction === "up" ? "upload" : "download", out, options.dryRun ?? false, force);
  const conflicts = plan.filter((e) => e.action === "conflict");
  if (conflicts.length > 0 && !force) {
    const where = direction === "up" ? "on the volume than here" : "here than on the volume";
    throw new VolumeError(
      `${conflicts.length} file(s) are newer ${where} (listed above): nothing was transferred. Look at them, then run again ` +
      `with --force to overwrite them, or move them aside`,
    );
  }
  const todo = plan.filter((e) => e.action === "copy" || (e.action === "conflict" && force));
  const same = plan.filter((e) => e.action === "same").length;
  const skipped = plan.filter((e) => e.action === "skip").length;
  const skippedNote = skipped > 0 ? `; ${skipped} left out (listed above)` : "";
  const bytes = todo.reduce((n, e) => n + e.bytes, 0);
  if (options.dryRun) {
    out(`dry run: ${todo.length} file(s), ${formatBytes(bytes)} would be ${direction === "up" ? "uploaded" : "downloaded"}; ${same} identical${skippedNote}; nothing was transferred`);
    return { copied: 0, same, bytes: 0, seconds: 0, plan, skipped, failed: [] };
  }
  const started = Date.now();
  const progress = new Progress(bytes, options.progress);
  const failed: { rel: string; message: string }[] = [];
  let copied = 0;
  let done = 0;
  for (const entry of todo) {
    progress.file(shown(entry.rel));
    try {
      await transfer(entry, (n) => progress.add(n));
      copied++;
      done += entry.bytes;
    } catch (err) {
      // A failure of this one file here (its name, a link, a file in the way) does not stop the others; a failure
      // of the volume or the connection does.
      if (!isKeyFailure(err)) throw err;
      failed.push({ rel: entry.rel, message: (err as Error).message });
    }
  }
  progress.finish();
  const seconds = (Date.now() - started) / 1000;
  for (const f of failed) out(`FAILED    ${shown(f.rel)}  (${f.message})`);
  out(`${direction === "up" ? "uploaded" : "downloaded"} ${copied} file(s), ${formatBytes(done)} in ${seconds.toFixed(1)} s; ${same} identical, left as they were${skippedNote}`);
  if (failed.length > 0) {
    throw new VolumeError(`${failed.length} file(s) could not be ${direction === "up" ? "uploaded" : "written here"} (listed above with the reason); the other ${copied} were`);
  }
  return { copied, same, bytes: done, seconds, plan, skipped, failed };
}

/** A local failure of one file, or the volume refusing one key (400: a name it does not take): not the run's. */
function isKeyFailure(err: unknown): boolean {
  if (err instanceof KeyFailure || localCode(err) !== undefined) return true;
  const cause = (err as { cause?: unknown })?.cause;
  if (localCode(cause) !== undefined) return true;
  const status = (cause as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status === 400 || status === 404;
}

/** A failure that belongs to one file only: reported with its name, and the transfer goes on with the others. */
export class KeyFailure extends VolumeError {}

/** A person's MetaHuman OS tree (`dir`) up to the volume under `prefix` (metahuman/). */
export async function pushData(client: VolumeClient, dir: string, prefix: string, options: SyncOptions = {}): Promise<SyncResult> {
  const root = path.resolve(dir);
  const plan = await planUpload(root, prefix, client).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new VolumeError(`${root} does not exist: give the folder of your MetaHuman OS data: its METAHUMAN_ROOT, the one holding etc/ and profiles/`);
    throw err;
  });
  return carryOut(plan, "up", async (entry, onBytes) => {
    await client.putFile(entry.local!.abs, `${prefix}${entry.rel}`, onBytes);
  }, options);
}

/** The volume's tree under `prefix` down into `dir`. */
export async function pullData(client: VolumeClient, dir: string, prefix: string, options: SyncOptions = {}): Promise<SyncResult> {
  const root = path.resolve(dir);
  if (!options.dryRun) await mkdir(root, { recursive: true });
  const plan = await planDownload(root, prefix, client);
  return carryOut(plan, "down", async (entry, onBytes) => {
    try {
      await assertNoLinkOnTheWay(root, entry.rel);
    } catch (err) {
      throw new KeyFailure((err as Error).message);
    }
    await client.getFile(entry.remote!, path.join(root, ...entry.rel.split("/")), onBytes);
  }, options);
}
