// The chat page in headless Chromium (Debian's chromium): log in (and the login form is gone), see
// the cold-start notice, receive a streamed answer, send with Enter, see a failure in plain words,
// keep the resent history within the server's limits, see the last chat's cost, log out everywhere.
import * as fs from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createMockProvider } from "../../src/app/llm/mock";
import { CHAT_LIMITS } from "../../src/app/server/routes/chat";
import { API_KEY, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import { PASSWORD, startApp, type Running } from "../app/helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser: Browser;
let running: Running | undefined;
let page: Page | undefined;
let emu: RunningEmulator | undefined;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await page?.context().close();
  page = undefined;
  await running?.close();
  running = undefined;
  await emu?.close();
  emu = undefined;
});

async function openAndLogin(password = PASSWORD, own?: (p: Page) => void): Promise<Page> {
  const context = await browser.newContext();
  const opened = await context.newPage();
  if (own) own(opened);
  else page = opened;
  await opened.goto(running!.url);
  await opened.fill("#username", "ada");
  await opened.fill("#password", password);
  await opened.click("#login button[type=submit]");
  return opened;
}

/** Sends a message with the Enter key and waits until the page can send again. */
async function sendWithEnter(p: Page, text: string): Promise<void> {
  await p.fill("#input", text);
  await p.press("#input", "Enter");
  await p.waitForFunction(() => (document.getElementById("input") as HTMLTextAreaElement).value === "");
  await p.waitForFunction(() => !(document.getElementById("send") as HTMLButtonElement).disabled);
}

describe("chat page", () => {
  it("logs in, shows the cold-start notice, and renders a streamed answer", async () => {
    running = await startApp({ provider: createMockProvider({ coldStartMs: 400, delayMs: 30 }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    expect(await p.textContent("#whoami")).toBe("Signed in as ada");
    // The login form is gone from the screen, not only marked hidden (a stylesheet rule once overrode it).
    expect(await p.isHidden("#login")).toBe(true);
    expect(await p.isVisible("#chat")).toBe(true);

    const deltasSeen: string[] = [];
    await p.exposeFunction("recordBubble", (t: string) => deltasSeen.push(t));
    await p.evaluate(() => {
      new MutationObserver(() => {
        const last = document.querySelector("#messages li.assistant:last-child");
        if (last) (window as unknown as { recordBubble: (t: string) => void }).recordBubble(last.textContent ?? "");
      }).observe(document.getElementById("messages")!, { subtree: true, childList: true, characterData: true });
    });

    await p.fill("#input", "tell me something nice");
    await p.click("#send");
    await p.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("Starting a GPU worker"));
    await p.waitForFunction(() => document.querySelector("#messages li.assistant")?.textContent === "You said: tell me something nice");
    await p.waitForFunction(() => !(document.getElementById("send") as HTMLButtonElement).disabled);
    expect(await p.textContent("#status")).toBe("");
    // Streamed: the bubble grew through partial answers before the full one.
    expect(deltasSeen.some((t) => t.length > 0 && t.length < "You said: tell me something nice".length)).toBe(true);

    // The session survives a reload (cookie), and logout returns to the login form.
    await p.reload();
    await p.waitForSelector("#chat:not([hidden])");
    expect(await p.isHidden("#login")).toBe(true);
    await p.click("#logout");
    await p.waitForSelector("#login:not([hidden])");
    expect(await p.isVisible("#login")).toBe(true);
    expect(await p.isHidden("#chat")).toBe(true);
  });

  it("sends with Enter; Shift+Enter makes a new line", async () => {
    running = await startApp({ provider: createMockProvider({ delayMs: 5 }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    await p.focus("#input");
    await p.keyboard.type("first line");
    await p.keyboard.press("Shift+Enter");
    await p.keyboard.type("second line");
    expect(await p.inputValue("#input")).toBe("first line\nsecond line");
    expect(await p.locator("#messages li").count()).toBe(0);
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.querySelector("#messages li.assistant")?.textContent === "You said: first line\nsecond line");
    expect(await p.locator("#messages li.user").allTextContents()).toEqual(["first line\nsecond line"]);
    expect(await p.inputValue("#input")).toBe("");
  });

  it("says so in words when the password is wrong", async () => {
    running = await startApp();
    const p = await openAndLogin("not the password");
    await p.waitForFunction(() => document.getElementById("login-error")!.textContent !== "");
    expect(await p.textContent("#login-error")).toBe("Wrong username or password.");
    expect(await p.isHidden("#chat")).toBe(true);
  });

  it("shows a model failure in words a person understands", async () => {
    running = await startApp({ provider: createMockProvider({ failWith: "Traceback: CUDA out of memory" }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    await p.fill("#input", "hello");
    await p.click("#send");
    await p.waitForFunction(() => document.getElementById("status")!.classList.contains("error"));
    expect(await p.textContent("#status")).toBe("The model could not answer this message.");
    expect(await p.content()).not.toContain("CUDA");
  });
});

describe("chat page within the server's limits", () => {
  it("reads the limits the chat route enforces", async () => {
    running = await startApp();
    const limits = await (await fetch(`${running.url}/api/chat/limits`)).json();
    expect(limits).toEqual({ ...CHAT_LIMITS });
  });

  it("an answer over the per-message limit does not make later chats fail, and the page says it shortened it", async () => {
    const long = "ä".repeat(CHAT_LIMITS.maxMessageChars + 1_000);
    running = await startApp({ provider: createMockProvider({ reply: (m) => (m.at(-1)!.content === "long please" ? long : `You said: ${m.at(-1)!.content}`) }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    const statuses: number[] = [];
    p.on("response", (r) => r.url().endsWith("/api/chat") && statuses.push(r.status()));
    await sendWithEnter(p, "long please");
    expect((await p.locator("#messages li.assistant").last().textContent())?.length).toBe(long.length);
    await sendWithEnter(p, "and now?");
    await sendWithEnter(p, "still fine?");
    expect(await p.locator("#messages li.assistant").allTextContents()).toEqual([long, "You said: and now?", "You said: still fine?"]);
    expect(statuses).toEqual([200, 200, 200]);
    expect(await p.textContent("#status")).toBe("");
    expect(await p.isVisible("#trim-note")).toBe(true);
    expect(await p.textContent("#trim-note")).toBe("To stay within the server's limits, 1 long message was shortened in what the model was sent.");
  });

  it("40 long non-ASCII messages stay under the body limit: the oldest are left out, and the page says so", async () => {
    // 7,000 "€" (3 bytes each in UTF-8) is within the per-message limit; 40 of them (21 kB each) are not within the body limit.
    running = await startApp({ envExtra: { CHAT_RATE_LIMIT_PER_MINUTE: "100" }, provider: createMockProvider({ reply: (m) => m.at(-1)!.content }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    const sent: Array<{ bytes: number; messages: number }> = [];
    const statuses: number[] = [];
    p.on("request", (r) => {
      if (!r.url().endsWith("/api/chat")) return;
      const body = r.postDataBuffer()!;
      sent.push({ bytes: body.length, messages: (JSON.parse(body.toString("utf8")) as { messages: unknown[] }).messages.length });
    });
    p.on("response", (r) => r.url().endsWith("/api/chat") && statuses.push(r.status()));
    const chats = 21;
    for (let i = 0; i < chats; i++) await sendWithEnter(p, `${i} ${"€".repeat(7_000)}`);
    expect(statuses).toEqual(Array(chats).fill(200));
    expect(await p.locator("#messages li.assistant").count()).toBe(chats);
    expect(await p.locator("#status.error").count()).toBe(0);
    expect(Math.max(...sent.map((s) => s.bytes))).toBeLessThanOrEqual(CHAT_LIMITS.maxBodyBytes);
    expect(Math.max(...sent.map((s) => s.messages))).toBeLessThanOrEqual(CHAT_LIMITS.maxMessages);
    // The history grew until the body limit, then was kept just under it (more than a few messages, so not over-trimmed).
    expect(sent.at(-1)!.messages).toBeGreaterThan(20);
    expect(sent.at(-1)!.bytes).toBeGreaterThan(CHAT_LIMITS.maxBodyBytes - 30_000);
    expect(await p.textContent("#trim-note")).toMatch(/^To stay within the server's limits, the \d+ oldest messages were left out in what the model was sent\.$/);
  }, 60_000);
});

describe("chat page: cost and sessions", () => {
  it("shows the last chat's GPU time and cost discreetly (runpod_serverless against the emulator)", async () => {
    emu = await startEmulator({ inProcess: { latencyMs: 400 } });
    running = await startApp({
      envExtra: { LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: API_KEY, RUNPOD_ENDPOINT_ID: emu.endpoint.id, RUNPOD_SERVERLESS_URL: emu.serverlessUrl, GPU_USD_PER_SECOND: "0.0004" },
    });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    expect(await p.isHidden("#cost")).toBe(true);
    let done: { cost?: { gpuSeconds: number; usd?: number } } | undefined;
    p.on("response", async (r) => {
      if (!r.url().endsWith("/api/chat")) return;
      const text = await r.text();
      done = JSON.parse(/event: done\ndata: (.*)\n/.exec(text)![1]!);
    });
    await sendWithEnter(p, "hello there");
    await p.waitForFunction(() => !document.getElementById("cost")!.hidden);
    await expect.poll(() => done).toBeDefined();
    const cost = done!.cost!;
    expect(cost.gpuSeconds).toBeGreaterThan(0);
    expect(cost.usd).toBeGreaterThan(0);
    const usd = cost.usd! < 0.01 ? cost.usd!.toFixed(4) : cost.usd!.toFixed(2);
    expect(await p.textContent("#cost")).toBe(`Last answer: ${cost.gpuSeconds.toFixed(1)} GPU seconds · about $${usd}`);
    expect(await p.getAttribute("#cost", "class")).toBe("note");
  });

  it("'Log out everywhere' ends the sessions of every browser", async () => {
    running = await startApp();
    const first = await openAndLogin();
    await first.waitForSelector("#chat:not([hidden])");
    let other: Page | undefined;
    const second = await openAndLogin(PASSWORD, (opened) => (other = opened));
    try {
      await second.waitForSelector("#chat:not([hidden])");
      await first.click("#logout-everywhere");
      await first.waitForSelector("#login:not([hidden])");
      expect(await first.textContent("#login-error")).toBe("You are logged out everywhere.");
      expect(await first.isHidden("#chat")).toBe(true);
      // The other browser's cookie no longer works.
      await second.reload();
      await second.waitForSelector("#login:not([hidden])");
      expect(await second.isHidden("#chat")).toBe(true);
    } finally {
      await other?.context().close();
    }
  });
});
