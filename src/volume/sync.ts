// push-data and pull-data (and restore, which is a push of a backup): a plan first, comparing each file on both
// sides by size and MD5 and, where they differ, by modification time; then the transfers. A file is never
// overwritten by an older one without --force: if the plan finds any such file, nothing at all is transferred and
// every one of them is listed. Files on one side only are copied to the other, never deleted.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { VolumeError } from "./target";
import { Progress, formatBytes, type ProgressSink } from "./progress";
import { walkFiles, type LocalFile } from "./layout";
import { fileMd5, isMd5, type RemoteObject, type VolumeClient } from "./volume-client";

export type Action = "copy" | "same" | "conflict";

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
}

async function sameContent(local: LocalFile, remote: RemoteObject): Promise<boolean> {
  if (local.size !== remote.size) return false;
  // RunPod's and the emulator's ETag is the file's MD5; anything else cannot be compared without the bytes.
  return isMd5(remote.etag) && (await fileMd5(local.abs)) === remote.etag;
}

const when = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Upload plan: `destinationNewer(local, remote)` says when the volume's copy must be kept. */
export async function planUpload(
  localRoot: string, remotePrefix: string, client: VolumeClient,
  destinationNewer: (local: LocalFile, remote: RemoteObject) => boolean = (l, r) => r.lastModified.getTime() > l.mtime.getTime(),
  keep: (rel: string) => boolean = () => true,
): Promise<PlanEntry[]> {
  const locals = (await walkFiles(localRoot)).filter((f) => keep(f.rel));
  const remotes = new Map((await client.list(remotePrefix)).map((r) => [r.key.slice(remotePrefix.length), r]));
  const plan: PlanEntry[] = [];
  for (const local of locals) {
    const remote = remotes.get(local.rel);
    if (remote === undefined) plan.push({ rel: local.rel, action: "copy", reason: "new", bytes: local.size, local });
    else if (await sameContent(local, remote)) plan.push({ rel: local.rel, action: "same", reason: "identical", bytes: 0, local, remote });
    else if (destinationNewer(local, remote)) {
      plan.push({ rel: local.rel, action: "conflict", reason: `newer on the volume (${when(remote.lastModified)} > ${when(local.mtime)})`, bytes: local.size, local, remote });
    } else plan.push({ rel: local.rel, action: "copy", reason: "older on the volume", bytes: local.size, local, remote });
  }
  return plan;
}

export async function planDownload(localRoot: string, remotePrefix: string, client: VolumeClient): Promise<PlanEntry[]> {
  const locals = new Map((await walkFiles(localRoot).catch(() => [] as LocalFile[])).map((f) => [f.rel, f]));
  const plan: PlanEntry[] = [];
  for (const remote of await client.list(remotePrefix)) {
    const rel = remote.key.slice(remotePrefix.length);
    if (!safeRelative(rel)) throw new VolumeError(`the volume holds a key that is not a plain path (${JSON.stringify(remote.key)}): nothing was transferred`);
    const local = locals.get(rel);
    if (local === undefined) plan.push({ rel, action: "copy", reason: "new", bytes: remote.size, remote });
    else if (await sameContent(local, remote)) plan.push({ rel, action: "same", reason: "identical", bytes: 0, local, remote });
    else if (local.mtime.getTime() > remote.lastModified.getTime()) {
      plan.push({ rel, action: "conflict", reason: `newer here (${when(local.mtime)} > ${when(remote.lastModified)})`, bytes: remote.size, local, remote });
    } else plan.push({ rel, action: "copy", reason: "older here", bytes: remote.size, local, remote });
  }
  return plan;
}

export function safeRelative(rel: string): boolean {
  return rel !== "" && !rel.startsWith("/") && !rel.includes("\\") && rel.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

function report(plan: PlanEntry[], verb: string, out: (line: string) => void, dryRun: boolean, force: boolean): void {
  for (const entry of plan) {
    if (entry.action === "same") continue;
    const tag = entry.action === "conflict" ? (force ? "overwrite" : "KEEP") : verb;
    if (dryRun || entry.action === "conflict") out(`${tag.padEnd(9)} ${entry.rel}  (${entry.reason}, ${formatBytes(entry.bytes)})`);
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
  const bytes = todo.reduce((n, e) => n + e.bytes, 0);
  if (options.dryRun) {
    out(`dry run: ${todo.length} file(s), ${formatBytes(bytes)} would be ${direction === "up" ? "uploaded" : "downloaded"}; ${same} identical; nothing was transferred`);
    return { copied: 0, same, bytes: 0, seconds: 0, plan };
  }
  const started = Date.now();
  const progress = new Progress(bytes, options.progress);
  for (const entry of todo) {
    progress.file(entry.rel);
    await transfer(entry, (n) => progress.add(n));
  }
  progress.finish();
  const seconds = (Date.now() - started) / 1000;
  out(`${direction === "up" ? "uploaded" : "downloaded"} ${todo.length} file(s), ${formatBytes(bytes)} in ${seconds.toFixed(1)} s; ${same} identical, left as they were`);
  return { copied: todo.length, same, bytes, seconds, plan };
}

/** A person's MetaHuman OS tree (`dir`) up to the volume under `prefix` (metahuman/). */
export async function pushData(client: VolumeClient, dir: string, prefix: string, options: SyncOptions = {}): Promise<SyncResult> {
  const root = path.resolve(dir);
  const plan = await planUpload(root, prefix, client).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new VolumeError(`${root} does not exist: give the folder of your MetaHuman OS data (the one holding persona/ and memory/)`);
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
    await client.getFile(entry.remote!, path.join(root, ...entry.rel.split("/")), onBytes);
  }, options);
}
