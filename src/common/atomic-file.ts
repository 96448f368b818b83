// The one atomic file writer: a reader sees the old file or the new one, never half of one, and a failed
// write (full disk, crash between steps) leaves no temp file behind.
import { randomUUID } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as path from "node:path";

/**
 * Writes `text` to `file` through a unique temp file in the same directory: write, fsync, rename over the
 * target, then fsync the directory so the rename itself is durable. The file is created with `mode`
 * (owner-only by default: what we write holds persona, memory or secrets).
 */
export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomUUID()}.tmp`);
  try {
    const handle = await fsp.open(tmp, "wx", mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
  }
}
