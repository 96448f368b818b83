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

export interface SseEvent {
  event: string;
  data: any;
}

export interface ChatResult {
  status: number;
  events: SseEvent[];
  /** How many network reads carried at least one delta: more than 1 means the answer was not buffered. */
  readsWithDeltas: number;
  text: string;
  aborted: boolean;
}

/**
 * POST /api/chat and read its events as they come. `abortAfterDeltas` closes the connection after that many
 * deltas, as a person closing the tab midway would.
 */
export async function chat(webUrl: string, cookie: string, message: string, options: { abortAfterDeltas?: number; maxTokens?: number } = {}): Promise<ChatResult> {
  const controller = new AbortController();
  const res = await fetch(`${webUrl}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ messages: [{ role: "user", content: message }], ...(options.maxTokens ? { maxTokens: options.maxTokens } : {}) }),
    signal: controller.signal,
  });
  const result: ChatResult = { status: res.status, events: [], readsWithDeltas: 0, text: "", aborted: false };
  if (!res.body) return result;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let deltasThisRead = 0;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || data === undefined) continue; // heartbeat comments
        const parsed = { event, data: JSON.parse(data) };
        result.events.push(parsed);
        if (event === "delta") {
          deltasThisRead += 1;
          result.text += parsed.data.text;
        }
      }
      if (deltasThisRead > 0) result.readsWithDeltas += 1;
      const deltas = result.events.filter((e) => e.event === "delta").length;
      if (options.abortAfterDeltas !== undefined && deltas >= options.abortAfterDeltas) {
        result.aborted = true;
        controller.abort();
        break;
      }
    }
  } catch (err) {
    if (!result.aborted) throw err;
  }
  return result;
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
