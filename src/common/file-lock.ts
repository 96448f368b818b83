// One writer at a time for a file that several processes (web pods sharing the network volume, or two
// servers on one machine) read, modify and write back. Within this process, callers queue on a promise
// chain; across processes, proper-lockfile holds a lock folder beside the data (mkdir is atomic on local
// and network file systems alike), keeps its mtime fresh while held, and takes over one whose holder died.
import * as lockfile from "proper-lockfile";

/** A lock whose mtime has not moved for this long is taken to be a dead holder's. */
export const LOCK_STALE_MS = 10_000;
/** How long a caller waits for a held lock before giving up with FileLockTimeoutError. */
export const LOCK_WAIT_MS = 15_000;

export class FileLockTimeoutError extends Error {
  override name = "FileLockTimeoutError";
  constructor(readonly lockPath: string, readonly waitedMs: number) {
    super(`the lock ${lockPath} was still held by another process after ${waitedMs} ms (a holder that died lets go after ${LOCK_STALE_MS} ms)`);
  }
}

export class FileLockLostError extends Error {
  override name = "FileLockLostError";
  constructor(readonly lockPath: string, cause: unknown) {
    super(`the lock ${lockPath} was lost while held (${cause instanceof Error ? cause.message : String(cause)}): the write may race another process`);
  }
}

const inProcess = new Map<string, Promise<unknown>>();

/**
 * Runs `work` while holding `lockPath` (a path that is created as a folder and removed afterwards; its
 * parent must exist) against this process and every other process that locks the same path.
 */
export function withFileLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const run = (inProcess.get(lockPath) ?? Promise.resolve()).then(
    () => holdAcrossProcesses(lockPath, work),
    () => holdAcrossProcesses(lockPath, work),
  );
  const settled = run.catch(() => undefined);
  inProcess.set(lockPath, settled);
  void settled.then(() => inProcess.get(lockPath) === settled && inProcess.delete(lockPath));
  return run;
}

async function holdAcrossProcesses<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  let lost: unknown;
  const started = Date.now();
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      stale: LOCK_STALE_MS,
      // Contention is a few short read-modify-writes: poll often, and give up after about LOCK_WAIT_MS.
      retries: { retries: Math.ceil(LOCK_WAIT_MS / 100), minTimeout: 5, maxTimeout: 100, factor: 1.5, randomize: true },
      // The default throws from a timer, which would end the server: remember it and fail this call instead.
      onCompromised: (err) => {
        lost = err;
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOCKED") throw new FileLockTimeoutError(lockPath, Date.now() - started);
    throw err;
  }
  try {
    const result = await work();
    if (lost !== undefined) throw new FileLockLostError(lockPath, lost);
    return result;
  } finally {
    await release().catch(() => undefined); // a lost lock has nothing left to release
  }
}
