// The chat page in headless Chromium (Debian's chromium): log in, see the cold-start
// notice, receive a streamed answer, see a failure in plain words.
import * as fs from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createMockProvider } from "../../src/app/llm/mock";
import { PASSWORD, startApp, type Running } from "../app/helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser: Browser;
let running: Running | undefined;
let page: Page | undefined;

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
});

async function openAndLogin(password = PASSWORD): Promise<Page> {
  const context = await browser.newContext();
  page = await context.newPage();
  await page.goto(running!.url);
  await page.fill("#username", "ada");
  await page.fill("#password", password);
  await page.click("#login button[type=submit]");
  return page;
}

describe("chat page", () => {
  it("logs in, shows the cold-start notice, and renders a streamed answer", async () => {
    running = await startApp({ provider: createMockProvider({ coldStartMs: 400, delayMs: 30 }) });
    const p = await openAndLogin();
    await p.waitForSelector("#chat:not([hidden])");
    expect(await p.textContent("#whoami")).toBe("Signed in as ada");

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
    await p.click("#logout");
    await p.waitForSelector("#login:not([hidden])");
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
