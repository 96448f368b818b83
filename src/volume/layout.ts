// Where things live on the volume, as S3 keys (the volume's root is /runpod-volume on a pod or a worker):
//   huggingface-cache/hub/   HF_HUB_CACHE, the model cache the worker reads (src/infra/metahuman-stack.ts)
//   metahuman/               METAHUMAN_ROOT, MetaHuman OS's root (etc/, brain/, profiles/<user>/, persona/users.json, logs/)
//   ollama/models/           OLLAMA_MODELS
// test/volume/layout.test.ts holds these against the stack's own values.
import { lstat, readdir, readlink, realpath, stat } from "node:fs/promises";
import path from "node:path";

export const HF_CACHE_PREFIX = "huggingface-cache/hub/";
export const METAHUMAN_PREFIX = "metahuman/";
/** Model caches: what a backup leaves out (a model can be pushed again; a person's memory cannot). */
export const MODEL_CACHE_PREFIXES = ["huggingface-cache/", "ollama/models/"] as const;

export function isModelCache(key: string): boolean {
  return MODEL_CACHE_PREFIXES.some((prefix) => key.startsWith(prefix));
}

export interface LocalFile {
  /** Path relative to the walked folder, with "/" separators. */
  rel: string;
  /** The file to read: the file itself, or for a followed link the file it points at (inside the tree). */
  abs: string;
  size: number;
  mtime: Date;
}

/** Something the walk did not take, and why: a link out of the tree, a link to a folder, a device, a FIFO. */
export interface SkippedEntry {
  rel: string;
  reason: string;
}

export interface Walk {
  files: LocalFile[];
  skipped: SkippedEntry[];
}

export interface WalkOptions {
  /** Folder names not descended into. */
  skipDirs?: readonly string[];
  /**
   * The tree a link may point into (default: the walked folder itself). A Hugging Face snapshot's links point at
   * ../../blobs, so push-model gives the model's cache folder.
   */
  within?: string;
  /** false: no link is followed at all, each is left out (a backup holds files, never links). Default true. */
  followLinks?: boolean;
}

const isInside = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : `${parent}${path.sep}`);

/**
 * Every regular file under `root`, sorted, and every entry left out with its reason. Links are never followed out of
 * the tree (`within`), nor to a folder (so a loop like `up -> ..` ends at once); a link to a file inside the tree is
 * read as that file. No name is left out because of how it looks: a file named like a temporary file is a file.
 */
export async function walkTree(root: string, options: WalkOptions = {}): Promise<Walk> {
  const skipDirs = options.skipDirs ?? [];
  const top = await realpath(root);
  const within = options.within === undefined ? top : await realpath(options.within);
  const files: LocalFile[] = [];
  const skipped: SkippedEntry[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!skipDirs.includes(entry.name)) await walk(abs, relPath);
      } else if (entry.isFile()) {
        const info = await lstat(abs).catch(() => undefined);
        if (info?.isFile()) files.push({ rel: relPath, abs, size: info.size, mtime: info.mtime });
      } else if (entry.isSymbolicLink() && options.followLinks === false) {
        skipped.push({ rel: relPath, reason: `a symbolic link (to ${await readlink(abs).catch(() => "?")})` });
      } else if (entry.isSymbolicLink()) {
        const to = await readlink(abs).catch(() => "?");
        const real = await realpath(abs).catch(() => undefined);
        const info = real === undefined ? undefined : await stat(real).catch(() => undefined);
        if (real === undefined || info === undefined) skipped.push({ rel: relPath, reason: `a link to ${to}, which does not exist` });
        else if (!isInside(real, within)) skipped.push({ rel: relPath, reason: `a link to ${to}, outside ${within}` });
        else if (info.isDirectory()) skipped.push({ rel: relPath, reason: `a link to the folder ${to} (links to folders are not followed)` });
        else if (!info.isFile()) skipped.push({ rel: relPath, reason: `a link to ${to}, which is not a regular file` });
        else files.push({ rel: relPath, abs: real, size: info.size, mtime: info.mtime });
      } else {
        skipped.push({ rel: relPath, reason: "not a regular file (a device, FIFO or socket)" });
      }
    }
  };
  await walk(top, "");
  const byRel = <T extends { rel: string }>(a: T, b: T) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);
  return { files: files.sort(byRel), skipped: skipped.sort(byRel) };
}

/** The files of `walkTree`, for callers that report nothing skipped. */
export async function walkFiles(root: string, options: WalkOptions = {}): Promise<LocalFile[]> {
  return (await walkTree(root, options)).files;
}
