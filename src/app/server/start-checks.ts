// What both entry points (server.ts, pod.ts) check before anything starts: the env (dotenv + zod) and the volume.
// Either wrong stops the process with exit 1 and a message naming what is wrong; nothing is created.
import { EnvError, loadWebEnv, type WebEnv } from "../env";
import { MetaHumanPaths, VolumeError } from "../paths";
import { takeSecretsFromFd } from "../secrets-fd";

/** Prints why the process will not start, and exits 1. */
export function refuseToStart(what: string, message: string): never {
  process.stderr.write(`${what} refuses to start: ${message}\n`);
  process.exit(1);
}

export function loadEnvAndVolume(what: string): { env: WebEnv; paths: MetaHumanPaths } {
  try {
    takeSecretsFromFd();
    const env = loadWebEnv();
    return { env, paths: MetaHumanPaths.open(env.METAHUMAN_ROOT) };
  } catch (err) {
    if (err instanceof EnvError || err instanceof VolumeError) refuseToStart(what, err.message);
    throw err;
  }
}
