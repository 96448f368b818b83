// MetaHuman OS's own page in headless Chromium, the way a person uses it: the pod's URL gives the door's login, the
// owner logs in, MetaHuman OS's chat page loads (unmodified, built at the pin), a message typed into its chat box is
// answered by the real SDK echo worker behind the emulator, the exchange is stored under the owner's profile, the
// page's stop button cancels the chat's jobs, and a stranger's browser gets only the door's login.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { PASSWORD } from "../app/helpers";
import { waitFor } from "../app/server-child";
import { startPod, stopPodAndEmulator, workersEmulator, type RunningPod } from "../metahuman-os/pod-fixture";
import { listJobs, type RunningEmulator } from "../serverless/emulator-fixture";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** MetaHuman OS's chat box and its buttons (apps/site/src/components/chat/InputArea.svelte at the pin). */
const CHAT_BOX = 'textarea[placeholder="Message your MetaHuman..."]';
const SEND = "button.send-btn";
const STOP = 'button[title="Stop thinking"]';
/** A message card in MetaHuman OS's message list (chat/cards/BaseMessageCard.svelte: `card-base card-{role}`). */
const card = (role: "user" | "assistant" | "system") => `.card-base.card-${role}`;

interface Job { id: string; status: string; createdAt: number; startedAt?: number; finishedAt?: number }
interface SseEvent { url: string; at: number; data: string }

/** What a page did that a person would not see: uncaught exceptions, failed requests, and the chat stream's events. */
interface Watched {
  page: Page;
  pageErrors: string[];
  consoleErrors: string[];
  /** Every console line, as `type: text`: what MetaHuman OS's page said about itself (AuthGate logs its checks). */
  console: string[];
  failures: Array<{ status: number; method: string; url: string }>;
  sse: SseEvent[];
}

async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const watched: Watched = { page, pageErrors: [], consoleErrors: [], console: [], failures: [], sse: [] };
  page.on("pageerror", (error) => watched.pageErrors.push(error.message));
  page.on("console", (message) => {
    watched.console.push(`${message.type()}: ${message.text()}`);
    if (message.type() === "error") watched.consoleErrors.push(message.text());
  });
  page.on("response", (response) => {
    if (response.status() >= 400) watched.failures.push({ status: response.status(), method: response.request().method(), url: new URL(response.url()).pathname });
  });
  // EventSource messages, each as it arrived (Chromium's DevTools protocol: the page itself is not touched).
  const cdp = await context.newCDPSession(page);
  const urls = new Map<string, string>();
  cdp.on("Network.requestWillBeSent", (event) => urls.set(event.requestId, event.request.url));
  cdp.on("Network.eventSourceMessageReceived", (event) => {
    watched.sse.push({ url: new URL(urls.get(event.requestId) ?? "http://unknown/").pathname, at: event.timestamp, data: event.data });
  });
  await cdp.send("Network.enable");
  return watched;
}

/**
 * The pod's URL, the door's login filled in and sent as a person does; resolves when MetaHuman OS's chat box is on
 * the screen, with the time the door's login was. When the chat box does not come, the error says what the page
 * showed instead, its failed requests and what it logged.
 */
async function logInAsOwner(watched: Watched, url: string): Promise<{ loginShownAt: number }> {
  const { page } = watched;
  await page.goto(url);
  expect(new URL(page.url()).pathname).toBe("/door/login");
  const loginShownAt = Date.now();
  await page.fill("#username", "ada");
  await page.fill("#password", PASSWORD);
  await page.click("#login button[type=submit]");
  await page.waitForURL((u) => u.pathname === "/", { timeout: 15_000 });
  await explained(watched, `MetaHuman OS's chat box ${CHAT_BOX}`, () => page.waitForSelector(CHAT_BOX, { state: "visible", timeout: 30_000 }));
  return { loginShownAt };
}

/**
 * Runs a wait on the page; when it fails, the error says what the page showed instead: its text, the requests that
 * failed, its uncaught errors and the last of what it logged (MetaHuman OS's page logs its auth and queue steps).
 */
async function explained<T>({ page, failures, pageErrors, console: logged }: Watched, what: string, wait: () => Promise<T>, jobs?: () => Promise<unknown>): Promise<T> {
  const startedAt = Date.now();
  try {
    return await wait();
  } catch (error) {
    const shown = await page.locator("body").innerText({ timeout: 2_000 }).catch((e: Error) => `(unreadable: ${e.message})`);
    const jobsNow = jobs ? await jobs().catch((e: Error) => `(unreadable: ${e.message})`) : undefined;
    throw new Error([
      `no ${what} after ${seconds(Date.now() - startedAt)}: ${(error as Error).message.split("\n")[0]}`,
      `the page at ${page.url()} showed (its last 1,000 characters): ${shown.replace(/\s+/g, " ").slice(-1_000)}`,
      ...(jobs ? [`the emulator's jobs: ${JSON.stringify(jobsNow)}`] : []),
      `failed requests: ${JSON.stringify(failures)}`,
      `page errors: ${JSON.stringify(pageErrors)}`,
      `console (last 40):\n  ${logged.slice(-40).join("\n  ")}`,
    ].join("\n"), { cause: error });
  }
}

/** Types into MetaHuman OS's chat box and presses its send button. */
async function send(page: Page, text: string): Promise<void> {
  await page.click(CHAT_BOX);
  await page.keyboard.type(text);
  await page.click(SEND);
}

/** The page's failed requests, less the two the pod does not offer: the web terminal (the door) and speech. */
const unexpectedFailures = (watched: Watched) =>
  watched.failures.filter((f) => !(f.status === 404 && f.url.startsWith("/api/terminal/")) && !(f.status >= 500 && f.url.startsWith("/api/tts")));

/** Every file under a folder whose text contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => fs.readFileSync(file, "utf8").includes(needle));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The emulator's jobs, each as its status and when it was queued, started and ended (seconds from now). */
async function jobTimes(emu: RunningEmulator): Promise<string[]> {
  const now = Date.now();
  const ago = (at?: number) => (at === undefined ? "-" : `${((now - at) / 1000).toFixed(1)} s ago`);
  return (await listJobs<Job>(emu)).map((j) => `${j.status} (queued ${ago(j.createdAt)}, started ${ago(j.startedAt)}, ended ${ago(j.finishedAt)})`);
}

let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
});

describe("MetaHuman OS's page through the door", () => {
  let emu: RunningEmulator;
  let pod: RunningPod;
  let podStartedAt: number;
  let podListeningAt: number;

  beforeAll(async () => {
    emu = await workersEmulator("chat", 30_000);
    podStartedAt = Date.now();
    pod = await startPod(emu);
    podListeningAt = Date.now();
  }, 120_000);
  afterAll(() => stopPodAndEmulator(pod, emu));

  it("logs the owner in at the door, and MetaHuman OS's chat answers with the echo worker's words, stored under profiles/ada", async () => {
    const context = await browser.newContext();
    try {
      const watched = await watchedPage(context);
      const { page } = watched;
      const { loginShownAt: firstPageAt } = await logInAsOwner(watched, pod.url);
      const chatBoxAt = Date.now();

      const before = (await listJobs<Job>(emu)).length;
      const message = "hello twin, remember the lighthouse at dusk";
      const sentAt = Date.now();
      await send(page, message);
      // The person's message, then MetaHuman OS's answer: the echo worker's words in an assistant card.
      await page.locator(card("user"), { hasText: message }).first().waitFor({ timeout: 10_000 });
      await explained(watched, "answer card with the echo worker's words", () => page.locator(card("assistant"), { hasText: "lighthouse at dusk" }).first().waitFor({ timeout: 60_000 }), () => jobTimes(emu));
      const answeredAt = Date.now();
      expect(await page.locator(card("assistant")).last().textContent()).toContain(message);

      // The page's path: POST /api/unified-queue, then the task's event stream. MetaHuman OS does not stream the
      // answer's words: the stream carries progress events, then the whole answer in one "answer" event.
      const stream = watched.sse.filter((e) => /^\/api\/unified-queue\/tasks\/[^/]+\/stream$/.test(e.url));
      const types = stream.map((e) => (JSON.parse(e.data) as { type: string }).type);
      expect(types).toContain("progress");
      const answers = stream.filter((e) => JSON.parse(e.data).type === "answer");
      expect(answers).toHaveLength(1);
      expect(JSON.parse(answers[0]!.data).data.response).toContain("lighthouse at dusk");
      const beforeAnswer = stream.slice(0, stream.indexOf(answers[0]!));
      expect(beforeAnswer.filter((e) => e.data.includes("lighthouse"))).toEqual([]);

      // The chat's jobs: every one done by the echo worker.
      await waitFor(async () => (await listJobs<Job>(emu)).slice(before).every((j) => j.status === "COMPLETED"), "the chat's jobs done", 10_000);
      const jobs = (await listJobs<Job>(emu)).slice(before);
      expect(jobs.length).toBeGreaterThanOrEqual(3);
      const executionMs = jobs.reduce((sum, j) => sum + (j.finishedAt! - j.startedAt!), 0);
      const delayMs = jobs.reduce((sum, j) => sum + (j.startedAt! - j.createdAt), 0);

      // The exchange, where MetaHuman OS stores it: the owner's conversation buffer (both sides) and a memory.
      const profile = path.join(pod.root, "profiles", "ada");
      await waitFor(() => filesContaining(path.join(profile, "memory"), message).length > 0, "the exchange in profiles/ada/memory", 10_000);
      const buffer = JSON.parse(fs.readFileSync(path.join(profile, "state", "conversation-buffer-conversation.json"), "utf8")) as { messages: Array<{ role: string; content: string }> };
      const contents = (role: string) => buffer.messages.filter((m) => m.role === role).map((m) => m.content);
      expect(contents("user")).toContain(message);
      expect(contents("assistant").some((c) => c.includes("lighthouse at dusk"))).toBe(true);
      expect(filesContaining(path.join(pod.root, "profiles"), message).every((file) => file.startsWith(`${profile}${path.sep}`))).toBe(true);

      // What the page met on the way: no uncaught exception, MetaHuman OS still running, and no refused or failed
      // request except the two the pod does not offer: its web terminal (closed at the door) and its speech (TTS:
      // no voice server on the pod).
      expect(watched.pageErrors).toEqual([]);
      expect(pod.proc.exitCode).toBeNull();
      expect(unexpectedFailures(watched)).toEqual([]);
      // The web terminal the page asks for (ttyd with any command) is not offered, and asking does not kill the pod.
      const spawn = await page.evaluate(async () => {
        const response = await fetch("/api/terminal/spawn", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: "id" }) });
        return { status: response.status, body: await response.text() };
      });
      expect(spawn.status).toBe(404);
      expect(spawn.body).toContain("no web terminal");
      // Nor its command line, whose failed spawn of `tsx` (not on the image's PATH) ended MetaHuman OS and the pod.
      const command = await page.evaluate(async () => {
        const response = await fetch("/api/execute", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: "status" }) });
        return { status: response.status, body: await response.text() };
      });
      expect(command.status).toBe(404);
      expect(command.body).toContain("no MetaHuman OS command line");
      expect((await page.evaluate(async () => (await fetch("/api/auth/me")).status))).toBe(200);
      expect(pod.proc.exitCode).toBeNull();

      console.log([
        `pod start → listening: ${seconds(podListeningAt - podStartedAt)}; → the door's login in Chromium: ${seconds(firstPageAt - podStartedAt)}; login → MetaHuman OS's chat box: ${seconds(chatBoxAt - firstPageAt)}`,
        `one chat in the page (send → answer card): ${seconds(answeredAt - sentAt)}; its ${jobs.length} jobs: executionTime ${seconds(executionMs)} in all, delayTime ${seconds(delayMs)} in all`,
        `stream events: ${types.join(", ")}`,
        `failed requests: ${JSON.stringify(watched.failures)}`,
        `console errors: ${JSON.stringify(watched.consoleErrors)}`,
      ].join("\n"));
    } finally {
      await context.close();
    }
  }, 120_000);

  it("gives a stranger's browser the door's login, never MetaHuman OS", async () => {
    const context = await browser.newContext();
    try {
      const { page } = await watchedPage(context);
      for (const route of ["/", "/persona", "/tasks"]) {
        await page.goto(`${pod.url}${route}`);
        expect(new URL(page.url()).pathname, route).toBe("/door/login");
        expect(await page.title()).toBe("MetaHuman OS · log in");
        expect(await page.locator(CHAT_BOX).count()).toBe(0);
      }
      // MetaHuman OS's API refuses the stranger's page too, and a wrong password stays at the door.
      const status = await page.evaluate(async () => (await fetch("/api/unified-queue", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "user_message", input: {} }) })).status);
      expect(status).toBe(401);
      await page.fill("#username", "ada");
      await page.fill("#password", "not the password");
      await page.click("#login button[type=submit]");
      await page.waitForFunction(() => document.getElementById("login-error")!.textContent !== "");
      expect(new URL(page.url()).pathname).toBe("/door/login");
      expect((await context.cookies()).map((c) => c.name)).not.toContain("mh_session");
    } finally {
      await context.close();
    }
  });
});

describe("the stop button in MetaHuman OS's page", () => {
  let emu: RunningEmulator;
  let pod: RunningPod;

  beforeAll(async () => {
    emu = await workersEmulator("slow words", 30_000);
    pod = await startPod(emu);
  }, 120_000);
  afterAll(() => stopPodAndEmulator(pod, emu));

  it("leaves the chat's jobs CANCELLED and none COMPLETED", async () => {
    const context = await browser.newContext();
    try {
      const watched = await watchedPage(context);
      const { page } = watched;
      await logInAsOwner(watched, pod.url);
      const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(" ");
      await send(page, words);
      await waitFor(async () => (await listJobs<Job>(emu)).some((j) => j.status === "IN_PROGRESS"), "a running job", 60_000);
      await page.click(STOP, { timeout: 5_000 });
      const stoppedAt = Date.now();
      await waitFor(async () => (await listJobs<Job>(emu)).every((j) => !["IN_QUEUE", "IN_PROGRESS"].includes(j.status)), "no job left running", 30_000);
      const jobsEndedAt = Date.now();
      // The page says so and is free again: the stop button goes, no answer card came.
      await page.locator(card("system"), { hasText: "cancelled" }).first().waitFor({ timeout: 30_000 });
      await page.locator(STOP).waitFor({ state: "hidden", timeout: 30_000 });
      const pageFreeAt = Date.now();
      // Nothing MetaHuman OS submits after the stop may run either: give it a moment to try.
      await new Promise((r) => setTimeout(r, 2_000));
      const jobs = await listJobs<Job>(emu);
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs[0]!.status).toBe("CANCELLED");
      expect(jobs.filter((j) => j.status === "COMPLETED")).toEqual([]);
      expect(await page.locator(card("assistant"), { hasText: "word79" }).count()).toBe(0);
      expect(watched.pageErrors).toEqual([]);
      expect(pod.proc.exitCode).toBeNull();
      expect(unexpectedFailures(watched)).toEqual([]);
      console.log([
        `stop click → no job running: ${seconds(jobsEndedAt - stoppedAt)}; → the page free again: ${seconds(pageFreeAt - stoppedAt)}`,
        `stop: jobs ${jobs.map((j) => j.status).join(", ")}; system cards: ${JSON.stringify(await page.locator(card("system")).allTextContents())}`,
        `failed requests: ${JSON.stringify(watched.failures)}`,
      ].join("\n"));
    } finally {
      await context.close();
    }
  }, 120_000);
});
