// Helpers for the tests of the local stack: log in to the web pod, read a chat's server-sent events over
// real HTTP, and find processes by the tag a local stack puts in their environment.
import { readdirSync, readFileSync } from "node:fs";
import { LOCAL_TAG_VARIABLE } from "../../src/local/local-stack";

export async function loginCookie(webUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${webUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login as ${username} answered ${res.status}: ${await res.text()}`);
  const cookie = res.headers.get("set-cookie")?.split(";")[0];
  if (!cookie) throw new Error("login set no cookie");
  return cookie;
}

/** Logs in at the front door and opens MetaHuman OS's page once: the cookie header carries both sessions. */
export async function metahumanCookie(webUrl: string, username: string, password: string): Promise<string> {
  const door = await loginCookie(webUrl, username, password);
  const page = await fetch(`${webUrl}/`, { headers: { cookie: door, accept: "text/html" } });
  if (page.status !== 200) throw new Error(`MetaHuman OS's page answered ${page.status}`);
  const session = page.headers.getSetCookie().map((c) => c.split(";")[0]).find((c) => c?.startsWith("mh_session="));
  if (!session) throw new Error("the door set no MetaHuman OS session");
  return `${door}; ${session}`;
}

/** One chat through MetaHuman OS's own route (POST /api/persona_chat, not streamed: MetaHuman OS asks for none). */
export async function metahumanChat(webUrl: string, cookie: string, message: string, signal?: AbortSignal): Promise<{ status: number; response: string }> {
  const res = await fetch(`${webUrl}/api/persona_chat`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ message, mode: "conversation", stream: false }),
    signal,
  });
  const body = (await res.json()) as { response?: string };
  return { status: res.status, response: body.response ?? "" };
}

/** Pids of live processes whose environment carries this local stack's tag (this user's processes only). */
export function processesTagged(tag: string): number[] {
  const needle = `${LOCAL_TAG_VARIABLE}=${tag}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // A zombie's environ reads empty: it no longer runs.
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return pids;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
