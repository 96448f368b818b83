// The web image's entrypoint hands the server its secrets (SECRET_VARIABLES) on a file descriptor instead of in its
// environment: MetaHuman OS runs as the same user as the server, and a process's start environment stays readable in
// /proc/PID/environ by every process of that user for the whole life of the process (measured: through MetaHuman
// OS's process route, `cat /proc/*/environ` returned the RunPod key). A pipe read to its end and closed leaves
// nothing there. Elsewhere (npm run local, tests, a server started by hand) the secrets come in the environment as
// before, and this does nothing.
import * as fs from "node:fs";
import { EnvError, isSecret, SECRET_VARIABLES } from "./env";

/** The variable that names the descriptor (docker/web-entrypoint.sh sets it to 3). */
export const SECRETS_FD_VARIABLE = "POD_SECRETS_FD";

/**
 * Reads `NAME=value` lines from the descriptor named by POD_SECRETS_FD into `env`, closes it and removes
 * POD_SECRETS_FD. Only SECRET_VARIABLES may come this way; anything else is refused by name, never by value.
 */
export function takeSecretsFromFd(env: NodeJS.ProcessEnv = process.env): string[] {
  const named = env[SECRETS_FD_VARIABLE];
  if (named === undefined) return [];
  if (!/^[0-9]{1,4}$/.test(named)) throw new EnvError([`${SECRETS_FD_VARIABLE} must be a file descriptor number (got ${JSON.stringify(named.slice(0, 20))})`]);
  const fd = Number(named);
  let text: string;
  try {
    text = fs.readFileSync(fd, "utf8");
  } catch (err) {
    throw new EnvError([`${SECRETS_FD_VARIABLE}=${fd}, but file descriptor ${fd} could not be read (${(err as NodeJS.ErrnoException).code ?? "error"}): start the server through docker/web-entrypoint.sh, or unset it`]);
  } finally {
    try { fs.closeSync(fd); } catch { /* already closed */ }
  }
  const taken: string[] = [];
  const problems: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const at = line.indexOf("=");
    const name = at > 0 ? line.slice(0, at) : "(a line without =)";
    if (!isSecret(name)) {
      problems.push(`${SECRETS_FD_VARIABLE} carries ${name.slice(0, 60)}, which is not one of ${SECRET_VARIABLES.join(", ")}`);
      continue;
    }
    env[name] = line.slice(at + 1);
    taken.push(name);
  }
  if (problems.length > 0) throw new EnvError(problems);
  delete env[SECRETS_FD_VARIABLE];
  return taken;
}
