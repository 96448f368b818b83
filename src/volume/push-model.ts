// push-model: a Hugging Face model into the volume's Hugging Face cache (HF_HUB_CACHE), in the layout
// huggingface_hub reads offline:
//   models--<org>--<name>/snapshots/<commit>/<file>   the model's files
//   models--<org>--<name>/refs/<branch>               the commit the branch points at ("main" unless a branch was named)
// Over S3 a file is a file: there are no symbolic links, so the snapshot holds the files themselves and blobs/ stays
// empty (huggingface_hub's own layout on a file system without symlinks; blobs/ as well would store the model twice).
// The ref is written last, so a worker never finds a ref to a half-uploaded snapshot.
// The model comes from `--from <dir>` (a folder already on disk) or is downloaded first with Hugging Face's own CLI.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HF_CACHE_PREFIX, walkTree } from "./layout";
import { shown } from "./names";
import { Progress, formatBytes, formatDuration, type ProgressSink } from "./progress";
import { VolumeError } from "./target";
import { fileMd5, isMd5, type VolumeClient } from "./volume-client";

export interface ModelRef {
  repoId: string;
  /** A branch or tag name, or a 40-hex commit; undefined: main. */
  revision?: string;
}

const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function parseModelRef(text: string): ModelRef {
  const at = text.lastIndexOf("@");
  const repoId = at === -1 ? text : text.slice(0, at);
  const revision = at === -1 ? undefined : text.slice(at + 1);
  if (!REPO_ID.test(repoId) || repoId.includes("..") || repoId.includes("--")) {
    throw new VolumeError(`${JSON.stringify(text)} is not a Hugging Face model id: expected org/name or org/name@revision, e.g. Qwen/Qwen2.5-7B-Instruct-AWQ`);
  }
  if (revision !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/.test(revision)) {
    throw new VolumeError(`revision ${JSON.stringify(revision)} of ${repoId} is not a branch, tag or commit`);
  }
  return { repoId, ...(revision ? { revision } : {}) };
}

/** `models--org--name`, as huggingface_hub names a model's cache folder. */
export function repoFolder(repoId: string): string {
  return `models--${repoId.split("/").join("--")}`;
}

export interface PushModelOptions {
  from?: string;
  out?: (line: string) => void;
  progress?: ProgressSink;
  /** Runs Hugging Face's CLI (tests inject one). */
  download?: (ref: ModelRef, cacheDir: string) => void;
}

export interface PushModelResult {
  commit: string;
  ref: string;
  uploaded: number;
  skipped: number;
  bytes: number;
  seconds: number;
  /** Bytes per second of what was uploaded. */
  throughput: number;
  partsResumed: number;
}

/** Downloads with `hf download` (huggingface_hub ≥ 0.34) or `huggingface-cli download` into a cache folder. */
function downloadWithHfCli(ref: ModelRef, cacheDir: string): void {
  const args = ["download", ref.repoId, ...(ref.revision ? ["--revision", ref.revision] : []), "--cache-dir", cacheDir];
  for (const cli of ["hf", "huggingface-cli"]) {
    const run = spawnSync(cli, args, { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") continue;
    if (run.status === 0) return;
    const text = `${run.stderr ?? ""}`;
    if (/RepositoryNotFound|404|not found/i.test(text)) {
      throw new VolumeError(`model ${ref.repoId} does not exist on the Hugging Face hub (or is private: run \`hf auth login\` first); nothing was uploaded`);
    }
    if (/RevisionNotFound/i.test(text)) throw new VolumeError(`${ref.repoId} has no revision ${ref.revision}; nothing was uploaded`);
    throw new VolumeError(`${cli} download ${ref.repoId} failed: ${text.trim().split("\n").slice(-2).join(" ")}; nothing was uploaded`);
  }
  throw new VolumeError("Hugging Face's CLI is not installed: `pip install -U huggingface_hub` (it provides `hf`), or pass --from <dir> with the model on disk");
}

/** The snapshot folder a download left in `cacheDir`, and its commit. */
function downloadedSnapshot(cacheDir: string, ref: ModelRef): { dir: string; commit: string } {
  const snapshots = path.join(cacheDir, repoFolder(ref.repoId), "snapshots");
  const commits = existsSync(snapshots) ? readdirSync(snapshots).filter((n) => COMMIT.test(n)) : [];
  if (commits.length !== 1) throw new VolumeError(`the download of ${ref.repoId} left ${commits.length} snapshots in ${snapshots}; expected one`);
  return { dir: path.join(snapshots, commits[0]!), commit: commits[0]! };
}

export async function pushModel(client: VolumeClient, refText: string, options: PushModelOptions = {}): Promise<PushModelResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ref = parseModelRef(refText);
  let source: string;
  let commit: string | undefined;
  let cleanup: string | undefined;
  if (options.from !== undefined) {
    source = path.resolve(options.from);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isDirectory()) throw new VolumeError(`model folder ${source} does not exist (--from): nothing was uploaded`);
    // A snapshot folder of a local Hugging Face cache names its commit.
    commit = /[\\/]snapshots[\\/]([0-9a-f]{40})[\\/]?$/.exec(source)?.[1];
  } else {
    cleanup = mkdtempSync(path.join(tmpdir(), "hf-download-"));
    (options.download ?? downloadWithHfCli)(ref, cleanup);
    ({ dir: source, commit } = downloadedSnapshot(cleanup, ref));
  }
  try {
    // A snapshot of a Hugging Face cache links its files to ../../blobs: links may point inside the model's folder.
    const within = /[\\/]snapshots[\\/][^\\/]+[\\/]?$/.test(source) ? path.resolve(source, "..", "..") : source;
    const walked = await walkTree(source, { skipDirs: [".git", ".cache"], within });
    for (const s of walked.skipped) out(`skip      ${shown(s.rel)}  (${s.reason}: not uploaded)`);
    const files = walked.files;
    if (files.length === 0) throw new VolumeError(`model folder ${source} holds no files: nothing was uploaded`);
    if (!files.some((f) => f.rel === "config.json")) {
      throw new VolumeError(`model folder ${source} has no config.json, so vLLM could not load it: is it a Hugging Face model folder? Nothing was uploaded`);
    }
    if (ref.revision && COMMIT.test(ref.revision)) commit ??= ref.revision;
    // A folder with no commit of its own gets one derived from its contents: the same files, the same snapshot.
    if (commit === undefined) {
      const manifest = createHash("sha1");
      for (const f of files) manifest.update(`${f.rel}\0${await fileMd5(f.abs)}\0${f.size}\n`);
      commit = manifest.digest("hex");
    }
    const refName = ref.revision && !COMMIT.test(ref.revision) ? ref.revision : "main";
    const base = `${HF_CACHE_PREFIX}${repoFolder(ref.repoId)}/`;
    const snapshot = `${base}snapshots/${commit}/`;

    const there = new Map((await client.list(snapshot)).map((r) => [r.key, r]));
    const todo: typeof files = [];
    for (const f of files) {
      const remote = there.get(snapshot + f.rel);
      const same = remote !== undefined && remote.size === f.size && (!isMd5(remote.etag) || remote.etag === (await fileMd5(f.abs)));
      if (!same) todo.push(f);
    }
    const bytes = todo.reduce((n, f) => n + f.size, 0);
    await assertRoom(client, bytes);

    out(`${ref.repoId} → ${client.target.volumeId}:/${snapshot} (${todo.length} to upload, ${formatBytes(bytes)}; ${files.length - todo.length} already there)`);
    const progress = new Progress(bytes, options.progress);
    const started = Date.now();
    let partsResumed = 0;
    for (const f of todo) {
      progress.file(shown(f.rel));
      const result = await client.putFile(f.abs, snapshot + f.rel, (n) => progress.add(n));
      partsResumed += result.partsResumed;
    }
    progress.finish();
    await client.putBytes(`${base}refs/${refName}`, Buffer.from(commit));
    const seconds = (Date.now() - started) / 1000;
    const throughput = seconds > 0 ? bytes / seconds : 0;
    out(`uploaded ${todo.length} file(s), ${formatBytes(bytes)} in ${formatDuration(seconds)} (${formatBytes(throughput)}/s)` +
      `${partsResumed ? `, ${partsResumed} part(s) resumed from an interrupted run` : ""}; refs/${refName} → ${commit}`);
    out(`the worker reads it with MODEL_NAME=${ref.repoId}${refName !== "main" ? ` MODEL_REVISION=${refName}` : ""} (HF_HUB_CACHE=/runpod-volume/${HF_CACHE_PREFIX.replace(/\/$/, "")})`);
    return { commit, ref: refName, uploaded: todo.length, skipped: files.length - todo.length, bytes, seconds, throughput, partsResumed };
  } finally {
    if (cleanup) rmSync(cleanup, { recursive: true, force: true });
  }
}

/** Fails before the first byte when the volume's size is known and the upload cannot fit. */
export async function assertRoom(client: VolumeClient, bytes: number): Promise<void> {
  const size = client.target.sizeBytes;
  if (size === undefined || bytes === 0) return;
  const used = (await client.list("")).reduce((n, r) => n + r.size, 0);
  if (used + bytes > size) {
    throw new VolumeError(
      `network volume ${client.target.volumeId} has ${formatBytes(Math.max(0, size - used))} free of ${formatBytes(size)}, and this needs ${formatBytes(bytes)}: ` +
      "grow it (`pulumi config set metahuman:volumeSizeGb <GB>` then `pulumi up`) or free room; nothing was uploaded",
    );
  }
}
