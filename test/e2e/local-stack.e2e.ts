// The whole local stack as `npm run local` starts it (startLocalStack): emulator with real SDK worker
// processes, `pulumi up` with the real CLI, the web server as a child process on the env from the stack
// outputs. A chat goes browser/HTTP → web pod → job API → SDK worker running handler.py → back:
// complete and streamed answers, a cancel that reaches the handler, scale to zero and a cold start,
// the chat page in headless Chromium, and a restart that keeps the user's data.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "../../src/local/local-stack";
import { chat, loginCookie, processesTagged, until } from "./local-helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const IDLE_TIMEOUT_MS = 3_000;

let dataDir: string;
let stack: LocalStack | undefined;
let cookie: string;
const tags: string[] = [];

async function start(): Promise<LocalStack> {
  const started = await startLocalStack({
    dataDir,
    webPort: 0,
    emulatorPort: 0,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    // Slow enough that a chat can be cut off midway, one word per streamed post.
    workerEnv: { ECHO_TOKEN_DELAY_MS: "50", STREAM_BATCH_TOKENS: "1" },
  });
  tags.push(started.tag);
  return started;
}

async function emulatorJobs(s: LocalStack): Promise<{ id: string; status: string; workerId?: string; createdAt: number }[]> {
  const res = await fetch(`${s.emulatorUrl}/_emulator/jobs?endpointId=${s.endpointId}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; status: string; workerId?: string; createdAt: number }[];
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "metahuman-local-"));
  stack = await start();
  cookie = await loginCookie(stack.webUrl, stack.user.username, stack.user.password);
});

afterAll(async () => {
  await stack?.stop();
  // Nothing the stacks started outlives stop(): no web server, no worker, no SDK ping process.
  for (const tag of tags) expect(processesTagged(tag)).toEqual([]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("npm run local's stack, end to end", () => {
  it("came up from the stack outputs: web.env points at the emulator, the user exists, no worker runs yet", async () => {
    const s = stack!;
    expect(s.user).toMatchObject({ username: "demo", created: true });
    // Health details are for monitoring: the local login administers the local stack (ADMIN_USERS).
    const health = await fetch(`${s.webUrl}/api/health`, { headers: { cookie } });
    expect(health.status).toBe(200);
    const body = (await health.json()) as any;
    expect(body.llm).toMatchObject({ provider: "runpod_serverless", endpointId: s.endpointId, state: "cold" });
    expect(s.workers.processCount()).toBe(0);
    // The endpoint the web pod calls is the one `pulumi up` created in the emulator.
    const endpoint = await fetch(`${s.emulatorUrl}/v2/serverless/${s.endpointId}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
    expect(endpoint.status).toBe(200);
  });

  it("answers a chat through the job API and a real SDK worker: cold start, then the complete echo", async () => {
    const s = stack!;
    const message = "hello from the whole local stack";
    const result = await chat(s.webUrl, cookie, message);
    expect(result.status).toBe(200);
    const stages = result.events.filter((e) => e.event === "progress").map((e) => e.data.stage);
    expect(stages[0]).toBe("cold-start");
    expect(result.text).toBe(message);
    expect(result.events.at(-1)).toMatchObject({ event: "done", data: { model: "echo", finishReason: "stop" } });
    // The job ran on a worker process of the emulator.
    const jobs = await emulatorJobs(s);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: "COMPLETED" });
    // RunPod's REST v2 lists that worker for the endpoint.
    const listed = await fetch(`${s.emulatorUrl}/v2/serverless/${s.endpointId}/workers`, { headers: { authorization: `Bearer ${s.apiKey}` } });
    expect(listed.status).toBe(200);
    const { workers } = (await listed.json()) as { workers: { id: string }[] };
    expect(workers.map((w) => w.id)).toContain(jobs[0]!.workerId);
    // And the exchange reached the user's memory on the volume.
    const episodic = path.join(s.volumeDir, "users", "demo", "memory", "episodic");
    expect(readdirSync(episodic, { recursive: true }).some((f) => String(f).endsWith(".jsonl") || String(f).endsWith(".json"))).toBe(true);
  });

  it("streams the answer: the deltas arrive as several events over several reads", async () => {
    const s = stack!;
    const words = "one two three four five six seven eight";
    const result = await chat(s.webUrl, cookie, words);
    const deltas = result.events.filter((e) => e.event === "delta");
    expect(deltas.length).toBe(8);
    expect(result.readsWithDeltas).toBeGreaterThan(1);
    expect(result.text).toBe(words);
    // A warm worker: no cold start this time.
    expect(result.events.some((e) => e.event === "progress" && e.data.stage === "cold-start")).toBe(false);
  });

  it("a chat cut off midway cancels the job, and the cancel reaches the handler", async () => {
    const s = stack!;
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const before = (await emulatorJobs(s)).length;
    const result = await chat(s.webUrl, cookie, words, { abortAfterDeltas: 3, maxTokens: 400 });
    expect(result.aborted).toBe(true);
    const jobs = await emulatorJobs(s);
    expect(jobs).toHaveLength(before + 1);
    const job = jobs.sort((a, b) => a.createdAt - b.createdAt).at(-1)!;
    await until("the job to be CANCELLED", async () => (await emulatorJobs(s)).find((j) => j.id === job.id)?.status === "CANCELLED", 15_000);
    // The SDK worker got the stop and ended the handler's job (its own log line), long before the 300 words.
    const workerId = job.workerId!;
    await until(
      "the worker to log that it stopped the job",
      () => s.workers.outputOf(workerId).some((line) => line.includes("Job stopped") && line.includes(job.id)),
      15_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; worker output:\n${s.workers.outputOf(workerId).slice(-30).join("\n")}`);
    });
    // The worker is free again: the next chat completes.
    expect((await chat(s.webUrl, cookie, "after the cancel")).text).toBe("after the cancel");
  });

  it("scales to zero after the idle timeout, and the next chat reports a cold start", async () => {
    const s = stack!;
    expect(s.workers.processCount(s.endpointId)).toBeGreaterThan(0);
    expect(processesTagged(s.tag).length).toBeGreaterThan(1); // server + worker(s): the tag finds real processes
    await until("the workers to stop", () => s.workers.processCount(s.endpointId) === 0, IDLE_TIMEOUT_MS + 20_000);
    const health = (await (await fetch(`${s.webUrl}/api/health`, { headers: { cookie } })).json()) as any;
    expect(health.llm.state).toBe("cold");
    expect(health.llm.backend.workers).toMatchObject({ ready: 0, initializing: 0, running: 0 });

    const result = await chat(s.webUrl, cookie, "wake up");
    expect(result.events.find((e) => e.event === "progress")?.data.stage).toBe("cold-start");
    expect(result.text).toBe("wake up");
    expect(s.workers.processCount(s.endpointId)).toBe(1);
    expect(s.workers.lifeEvents().filter((e) => e.type === "start").length).toBeGreaterThanOrEqual(2);
    expect(s.workers.lifeEvents().filter((e) => e.type === "stop").length).toBeGreaterThanOrEqual(1);
  });

  it("serves the chat page to headless Chromium: log in, send, see the streamed answer", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    const s = stack!;
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(s.webUrl);
      await page.fill("#username", s.user.username);
      await page.fill("#password", s.user.password);
      await page.click("#login button[type=submit]");
      await page.waitForSelector("#chat:not([hidden])");
      const seen: string[] = [];
      await page.exposeFunction("recordBubble", (t: string) => seen.push(t));
      await page.evaluate(() => {
        new MutationObserver(() => {
          const last = document.querySelector("#messages li.assistant:last-child");
          if (last) (window as unknown as { recordBubble: (t: string) => void }).recordBubble(last.textContent ?? "");
        }).observe(document.getElementById("messages")!, { subtree: true, childList: true, characterData: true });
      });
      const message = "the page talks to a real worker through the emulator";
      await page.fill("#input", message);
      await page.click("#send");
      await page.waitForFunction((m) => document.querySelector("#messages li.assistant:last-child")?.textContent === m, message, { timeout: 60_000 });
      await page.waitForFunction(() => !(document.getElementById("send") as HTMLButtonElement).disabled);
      // Streamed: the bubble showed part of the answer before all of it.
      expect(seen.some((t) => t.length > 0 && t.length < message.length)).toBe(true);
    } finally {
      await browser.close();
    }
  });

  it("a second start on the same data dir rebuilds the stack and keeps the user's login and memory", async () => {
    const first = stack!;
    const password = first.user.password;
    const oldEndpoint = first.endpointId;
    await first.stop();
    stack = undefined;
    expect(processesTagged(first.tag)).toEqual([]);

    stack = await start();
    expect(stack.user).toEqual({ username: "demo", password, created: false });
    // A fresh emulator and a fresh stack state: a new endpoint, and `pulumi up` created it without errors.
    expect(stack.endpointId).not.toBe(oldEndpoint);
    const again = await loginCookie(stack.webUrl, "demo", password);
    const episodic = path.join(stack.volumeDir, "users", "demo", "memory", "episodic");
    expect(readdirSync(episodic, { recursive: true }).length).toBeGreaterThan(0);
    expect((await chat(stack.webUrl, again, "still here")).text).toBe("still here");
  });
});
