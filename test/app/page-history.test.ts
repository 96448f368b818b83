// The page's history fitting (src/app/public/history.js, the browser's own file) checked against the
// chat route's real schema through the app: what it keeps is always accepted.
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CHAT_LIMITS } from "../../src/app/server/routes/chat";
import { createMockProvider } from "../../src/app/llm/mock";
import { login, startApp, type Running } from "./helpers";

type Message = { role: "user" | "assistant"; content: string };
type Fit = (history: Message[], limits: typeof CHAT_LIMITS) => { messages: Message[]; dropped: number; shortened: number };
const load = async (): Promise<Fit> => {
  const file = path.join(__dirname, "../../src/app/public/history.js");
  return ((await import(file)) as { fitHistory: Fit }).fitHistory;
};

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const conversation = (pairs: number, text: (i: number) => string): Message[] =>
  Array.from({ length: pairs * 2 + 1 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: text(i) }));

describe("the page's history fitting", () => {
  it("keeps a short conversation as it is", async () => {
    const fit = await load();
    const history = conversation(3, (i) => `message ${i}`);
    expect(fit(history, CHAT_LIMITS)).toEqual({ messages: history, dropped: 0, shortened: 0 });
  });

  it("never splits a surrogate pair when it shortens a message", async () => {
    const fit = await load();
    const emoji = "x" + "😀".repeat(CHAT_LIMITS.maxMessageChars);
    const { messages, shortened } = fit([{ role: "user", content: emoji }], CHAT_LIMITS);
    expect(shortened).toBe(1);
    expect(messages[0]!.content.length).toBeLessThanOrEqual(CHAT_LIMITS.maxMessageChars);
    expect(messages[0]!.content).toBe(Buffer.from(messages[0]!.content, "utf8").toString("utf8"));
    expect(messages[0]!.content.endsWith("😀")).toBe(true);
  });

  it("what it keeps the server accepts: long answers, many messages, 3- and 4-byte characters, JSON escapes", async () => {
    const fit = await load();
    running = await startApp({ envExtra: { CHAT_RATE_LIMIT_PER_MINUTE: "100" }, provider: createMockProvider() });
    const { cookie } = await login(running.url);
    const shapes: Array<(i: number) => string> = [
      (i) => `${i} ${"€".repeat(i % 2 ? 12_000 : 7_900)}`,
      (i) => `${i} ${"😀".repeat(4_100)}`,
      (i) => `${i} ${'"\\'.repeat(4_000)}`,
      (i) => `${i} ${"\u0001".repeat(7_990)}`,
    ];
    for (const text of shapes) {
      const { messages, dropped } = fit(conversation(30, text), CHAT_LIMITS);
      expect(dropped).toBeGreaterThan(0);
      const response = await fetch(`${running.url}/api/chat`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
        body: JSON.stringify({ messages }),
      });
      expect(response.status, text(0).slice(0, 12)).toBe(200);
      await response.body?.cancel();
    }
  }, 30_000);
});
