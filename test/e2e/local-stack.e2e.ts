// The whole local stack as `npm run local` starts it (startLocalStack): emulator with real SDK worker
// processes, `pulumi up` with the real CLI, the web pod's command as a child process on the env from the stack
// outputs: MetaHuman OS (built at the pin) behind the front door, with the gateway. A chat goes browser/HTTP → door →
// MetaHuman OS → gateway → job API → SDK worker running handler.py → back: its jobs, a dropped chat whose cancel
// reaches the handler, scale to zero and a cold start, MetaHuman OS's page in headless Chromium behind the door's
// login, and a restart that keeps the person's login and memory. (Token streaming is the gateway's, tested in
// test/gateway: MetaHuman OS asks for none.)
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "../../src/local/local-stack";
import { metahumanChat, metahumanCookie, processesTagged, until } from "./local-helpers";

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
  cookie = await metahumanCookie(stack.webUrl, stack.user.username, stack.user.password);
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
    expect(body.components).toMatchObject({ metahumanOs: { ok: true }, gateway: { ok: true } });
    expect(s.workers.processCount()).toBe(0);
    // The endpoint the web pod calls is the one `pulumi up` created in the emulator.
    const endpoint = await fetch(`${s.emulatorUrl}/v2/serverless/${s.endpointId}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
    expect(endpoint.status).toBe(200);
  });

  it("answers a chat through MetaHuman OS, the job API and a real SDK worker: a cold start, its three jobs, the echo", async () => {
    const s = stack!;
    const message = "hello from the whole local stack";
    const result = await metahumanChat(s.webUrl, cookie, message);
    expect(result.status).toBe(200);
    expect(result.response).toContain(message);
    const jobs = await emulatorJobs(s);
    expect(jobs).toHaveLength(3);
    for (const job of jobs) expect(job).toMatchObject({ status: "COMPLETED" });
    expect(s.workers.lifeEvents().filter((e) => e.type === "start")).toHaveLength(1);
    // RunPod's REST v2 lists the worker that ran them for the endpoint.
    const listed = await fetch(`${s.emulatorUrl}/v2/serverless/${s.endpointId}/workers`, { headers: { authorization: `Bearer ${s.apiKey}` } });
    expect(listed.status).toBe(200);
    const { workers } = (await listed.json()) as { workers: { id: string }[] };
    expect(workers.map((w) => w.id)).toContain(jobs[0]!.workerId);
    // And the exchange reached the person's memory, where MetaHuman OS keeps it on the volume.
    const memory = path.join(s.volumeDir, "profiles", "demo", "memory");
    expect(readdirSync(memory, { recursive: true }).length).toBeGreaterThan(0);
  });

  it("a chat dropped midway cancels its job, the cancel reaches the handler, and no further job of it runs", async () => {
    const s = stack!;
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const before = (await emulatorJobs(s)).length;
    const controller = new AbortController();
    const dropped = metahumanChat(s.webUrl, cookie, words, controller.signal).catch(() => undefined);
    await until("the chat's first job to run", async () => (await emulatorJobs(s)).slice(before).some((j) => j.status === "IN_PROGRESS"), 30_000);
    controller.abort();
    await dropped;
    const job = (await emulatorJobs(s)).sort((a, b) => a.createdAt - b.createdAt)[before]!;
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
    await until("MetaHuman OS to give up the dropped chat", async () => (await emulatorJobs(s)).every((j) => j.status !== "IN_PROGRESS" && j.status !== "IN_QUEUE"), 30_000);
    expect((await emulatorJobs(s)).slice(before).filter((j) => j.status === "COMPLETED")).toEqual([]);
    // The worker is free again: after the stop's short grace, the next chat completes.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await metahumanChat(s.webUrl, cookie, "after the cancel")).response).toContain("after the cancel");
  });

  it("scales to zero after the idle timeout, and the next chat starts a worker again", async () => {
    const s = stack!;
    expect(s.workers.processCount(s.endpointId)).toBeGreaterThan(0);
    expect(processesTagged(s.tag).length).toBeGreaterThan(1); // web pod + worker(s): the tag finds real processes
    await until("the workers to stop", () => s.workers.processCount(s.endpointId) === 0, IDLE_TIMEOUT_MS + 20_000);
    const health = (await (await fetch(`${s.webUrl}/api/health`, { headers: { cookie } })).json()) as any;
    expect(health.llm.state).toBe("cold");
    expect(health.llm.backend.workers).toMatchObject({ ready: 0, initializing: 0, running: 0 });

    const starts = s.workers.lifeEvents().filter((e) => e.type === "start").length;
    const result = await metahumanChat(s.webUrl, cookie, "wake up");
    expect(result.response).toContain("wake up");
    // One cold start for the whole chat: its three jobs ran on the one worker it started.
    expect(s.workers.lifeEvents().filter((e) => e.type === "start").length).toBe(starts + 1);
    expect(s.workers.lifeEvents().filter((e) => e.type === "stop").length).toBeGreaterThanOrEqual(1);
  });

  it("serves MetaHuman OS's own page to headless Chromium behind the door's login", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    const s = stack!;
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(s.webUrl);
      expect(new URL(page.url()).pathname).toBe("/door/login");
      await page.fill("#username", s.user.username);
      await page.fill("#password", s.user.password);
      await page.click("#login button[type=submit]");
      await page.waitForURL((url) => url.pathname === "/", { timeout: 30_000 });
      // MetaHuman OS's page, logged in as the person: its own session endpoint says who.
      const me = await page.evaluate(async () => (await fetch("/api/auth/me")).json());
      expect(me.user).toMatchObject({ username: "demo", role: "owner" });
    } finally {
      await browser.close();
    }
  });

  it("a second start on the same data dir rebuilds the stack and keeps the person's login and memory", async () => {
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
    const again = await metahumanCookie(stack.webUrl, "demo", password);
    const memory = path.join(stack.volumeDir, "profiles", "demo", "memory");
    expect(readdirSync(memory, { recursive: true }).length).toBeGreaterThan(0);
    expect((await metahumanChat(stack.webUrl, again, "still here")).response).toContain("still here");
  });
});
