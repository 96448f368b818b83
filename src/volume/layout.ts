// Where things live on the volume, as S3 keys (the volume's root is /runpod-volume on a pod or a worker):
//   huggingface-cache/hub/   HF_HUB_CACHE, the model cache the worker reads (src/infra/metahuman-stack.ts)
//   metahuman/               METAHUMAN_ROOT, a person's MetaHuman OS tree (persona, memory, users/…)
//   ollama/models/           OLLAMA_MODELS
// test/volume/layout.test.ts holds these against the stack's own values.
import { readdir, stat } from "node:fs/promises";
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
  abs: string;
  size: number;
  mtime: Date;
}

/**
 * Every regular file under `root` (symbolic links followed, as a Hugging Face snapshot's links to its blobs are),
 * sorted. Our own partial downloads (`.name.xxxx.part`) and the folders in `skipDirs` are left out.
 */
export async function walkFiles(root: string, skipDirs: readonly string[] = []): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const info = await stat(abs).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isDirectory()) {
        if (!skipDirs.includes(entry.name)) await walk(abs, relPath);
      } else if (info.isFile() && !/^\..+\.[0-9a-f]{12}\.part$/.test(entry.name)) {
        out.push({ rel: relPath, abs, size: info.size, mtime: info.mtime });
      }
    }
  };
  await walk(root, "");
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
