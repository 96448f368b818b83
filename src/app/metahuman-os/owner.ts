// One login for the person: they log in at the front door (our accounts, with its login limits), and the door logs
// them in to MetaHuman OS on their behalf. MetaHuman OS's account for them has a password nobody types: derived
// from SESSION_SECRET and the username, so it lives in no file and the door can always recompute it.
import { createHmac } from "node:crypto";

export function metahumanOsPassword(username: string, sessionSecret: string): string {
  return createHmac("sha256", sessionSecret).update(`metahuman-os-login\0${username}`).digest("base64url");
}

export class MetahumanOsLoginError extends Error {
  constructor(readonly username: string, readonly status: number | undefined, detail: string) {
    super(`MetaHuman OS refused to log in ${JSON.stringify(username)}${status !== undefined ? ` (HTTP ${status})` : ""}: ${detail}`);
    this.name = "MetahumanOsLoginError";
  }
}

const SESSION_COOKIE = "mh_session";

function sessionFrom(response: Response): string | undefined {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair!.indexOf("=");
    if (at > 0 && pair!.slice(0, at).trim() === SESSION_COOKIE) return decodeURIComponent(pair!.slice(at + 1).trim());
  }
  return undefined;
}

async function post(base: string, route: string, body: unknown): Promise<Response> {
  return fetch(`${base}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
}

/**
 * MetaHuman OS's session id for the user: logs in, and registers the account first when MetaHuman OS does not
 * know it (the first account it registers becomes its owner). Register is reached on loopback only: the front door
 * refuses it to everyone.
 */
export async function metahumanOsSession(base: string, username: string, sessionSecret: string): Promise<string> {
  const password = metahumanOsPassword(username, sessionSecret);
  let response = await post(base, "/api/auth/login", { username, password });
  if (response.status === 401 || response.status === 404) {
    const registered = await post(base, "/api/auth/register", { username, password });
    if (!registered.ok) throw new MetahumanOsLoginError(username, registered.status, `registering the account failed: ${(await registered.text()).slice(0, 200)}`);
    const session = sessionFrom(registered);
    if (session) return session;
    response = await post(base, "/api/auth/login", { username, password });
  }
  if (!response.ok) throw new MetahumanOsLoginError(username, response.status, (await response.text()).slice(0, 200));
  const session = sessionFrom(response);
  if (!session) throw new MetahumanOsLoginError(username, response.status, "no mh_session cookie in its answer");
  return session;
}
