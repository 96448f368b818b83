// Spend while it runs and alerts that reach a person, through the real interfaces: a chat through the web server
// to the emulator's job API (the job's delayTime and executionTime become GPU seconds and dollars in /metrics and
// the admin spend view), the month so far from the emulator's billing API with its projection against the budget,
// and a loopback webhook that receives each alert once per episode.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AlertNotifier, RecentChats, type Alert } from "../../src/app/server/alerts";
import type { LLMProvider } from "../../src/app/llm/types";
import { BillingLedger } from "../../src/emulator/billing";
import { buildEmulator } from "../../src/emulator/emulator";
import type { JobEndpoint } from "../../src/emulator/job-store";
import { chat, login, MONITOR_HEADERS, readSse, startApp, type Running } from "./helpers";

const KEY = "spend-test-key-0123456789";
const RATE = 0.00031;

/** A loopback webhook receiver that records each JSON body (and can be told to fail). */
/**
 * A webhook that keeps what it is sent, less the storage alert: that one follows the disk the test's temporary volume
 * sits on (this machine's, which these tests do not control; over 80 % used it fires, measured on a busy build
 * machine). The storage alert is tested below with the share used given.
 */
async function receiver() {
  const bodies: any[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c) => { text += c; });
    req.on("end", () => {
      const body = JSON.parse(text);
      if (status === 200 && body.alert?.name !== "storage") bodies.push(body);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-token-xyz`,
    bodies,
    fail(code: number) { status = code; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function emulatorWith(ledger: BillingLedger, inProcess = {}) {
  const endpoint: JobEndpoint = { id: "ep-spend", workersMax: 1, workersMin: 0, idleTimeout: 5, executionTimeoutMs: 60_000 };
  const app = await buildEmulator({ apiKey: KEY, billing: ledger, jobs: { endpoints: (id) => (id === endpoint.id ? endpoint : undefined), inProcess } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, endpoint };
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const eventually = async (check: () => boolean, ms = 5_000) => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("spend per chat, from the job's own times", () => {
  let emu: Awaited<ReturnType<typeof emulatorWith>>;
  let web: Running;
  beforeAll(async () => {
    emu = await emulatorWith(new BillingLedger(), { coldStartMs: 300, latencyMs: 250 });
    web = await startApp({ envExtra: {
      LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: KEY, RUNPOD_ENDPOINT_ID: emu.endpoint.id,
      RUNPOD_SERVERLESS_URL: `${emu.origin}/v2`, RUNPOD_API_URL: emu.origin, GPU_USD_PER_SECOND: String(RATE),
    } });
  });
  afterAll(async () => { await web.close(); await emu.app.close(); });

  it("turns delayTime and executionTime into GPU seconds and dollars in /metrics and the admin view", async () => {
    const { cookie } = await login(web.url);
    const events = await readSse(await chat(web.url, cookie, "hello there"));
    expect(events.at(-1)?.event).toBe("done");

    const jobs = (await (await fetch(`${emu.origin}/_emulator/jobs`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { id: string }[];
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    const status = await (await fetch(`${emu.origin}/v2/${emu.endpoint.id}/status/${job.id}`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { delayTime: number; executionTime: number };
    expect(status.executionTime).toBeGreaterThanOrEqual(250);

    const text = await (await fetch(`${web.url}/metrics`, { headers: MONITOR_HEADERS })).text();
    expect(metric(text, "metahuman_gpu_job_execution_seconds_total")).toBeCloseTo(status.executionTime / 1000, 3);
    expect(metric(text, "metahuman_gpu_job_delay_seconds_total")).toBeCloseTo(status.delayTime / 1000, 3);
    // The endpoint scaled to zero: the delay is the worker starting (300 ms), billed GPU time too.
    expect(status.delayTime).toBeGreaterThanOrEqual(300);
    const gpuSeconds = metric(text, "metahuman_chat_gpu_seconds_sum");
    expect(gpuSeconds).toBeCloseTo((status.executionTime + status.delayTime) / 1000, 3);
    expect(metric(text, "metahuman_chat_cost_usd_total")).toBeCloseTo(gpuSeconds * RATE, 9);
    expect(metric(text, "metahuman_gpu_usd_per_second")).toBe(RATE);

    // The page gets the chat's cost with its "done" event.
    expect(events.at(-1)?.data.cost).toEqual({ gpuSeconds: Math.round(gpuSeconds * 10) / 10, usd: Math.round(gpuSeconds * RATE * 10_000) / 10_000 });
    const view = await (await fetch(`${web.url}/api/admin/spend`, { headers: MONITOR_HEADERS })).json() as any;
    expect(view.chatsSinceStart.count).toBe(1);
    expect(view.chatsSinceStart.last.usd).toBeCloseTo(gpuSeconds * RATE, 9);
    expect((await fetch(`${web.url}/api/admin/spend`)).status).toBe(401);
  });
});

describe("month to date from RunPod's billing API, projected against the budget", () => {
  // Mid-November 2026 (15 of 30 days gone) on both clocks: the emulator's ledger and the web server.
  let clock = Date.parse("2026-11-16T00:00:00Z");
  let emu: Awaited<ReturnType<typeof emulatorWith>>;
  let web: Running;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const podRate = 0.035; // the emulator's catalog: cpu3c per vCPU-hour
  beforeAll(async () => {
    const ledger = new BillingLedger(undefined, () => clock);
    // The web pod (2 vCPU cpu3c, 5 GB disk) and a 50 GB volume since the 1st, and another account pod that is not ours.
    ledger.trackPod({ podId: "pod-web", vcpu: 2, flavor: "cpu3c", containerDiskGb: 5, startedAt: Date.parse("2026-11-01T00:00:00Z") });
    ledger.trackPod({ podId: "pod-other", vcpu: 8, flavor: "cpu3g", containerDiskGb: 5, startedAt: Date.parse("2026-11-01T00:00:00Z") });
    ledger.trackVolume({ networkVolumeId: "vol-1", sizeGb: 50, type: "STANDARD", createdAt: Date.parse("2026-10-01T00:00:00Z") });
    ledger.recordWorkerSeconds({ endpointId: "ep-spend", gpuPool: "ADA_24", startedAt: Date.parse("2026-11-10T10:00:00Z"), stoppedAt: Date.parse("2026-11-10T11:00:00Z") });
    emu = await emulatorWith(ledger);
    hook = await receiver();
    web = await startApp({
      now: () => new Date(clock),
      alertCheckMs: 50,
      envExtra: {
        LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: KEY, RUNPOD_ENDPOINT_ID: emu.endpoint.id, RUNPOD_POD_ID: "pod-web",
        RUNPOD_SERVERLESS_URL: `${emu.origin}/v2`, RUNPOD_API_URL: emu.origin, GPU_USD_PER_SECOND: String(RATE),
        BUDGET_MONTHLY_USD: "30", ALERT_WEBHOOK_URL: hook.url,
      },
    });
  });
  afterAll(async () => { await web.close(); await emu.app.close(); await hook.close(); });

  it("reads the month so far (our pod, our endpoint, the volumes), projects it, and raises the budget alert once", async () => {
    const view = await (await fetch(`${web.url}/api/admin/spend?refresh=1`, { headers: MONITOR_HEADERS })).json() as any;
    const m = view.monthToDate;
    const hours = 15 * 24;
    // By hand: pod 2 × $0.035 × 360 h + 5 GB × $0.10 / 730 × 360 h; volume 50 × $0.07 / 730 × 360 h; one worker-hour.
    // (RunPod's records are rounded per day to 1/10 000 USD: cents are what agree.)
    expect(m.podsUsd).toBeCloseTo(2 * podRate * hours + (5 * 0.1 / 730) * hours, 2);
    expect(m.networkVolumesUsd).toBeCloseTo((50 * 0.07 / 730) * hours, 2);
    expect(m.serverlessUsd).toBeCloseTo(3600 * 0.00034, 2);
    expect(m.startTime).toBe("2026-11-01T00:00:00.000Z");
    const total = m.podsUsd + m.networkVolumesUsd + m.serverlessUsd + (m.endpointsUsd ?? 0);
    expect(m.projectedMonthUsd).toBeCloseTo(total * 2, 1);
    expect(m.overBudget).toBe(true);
    expect(view.alerts).toEqual([expect.objectContaining({ name: "budget" })]);

    // The webhook hears of it once, however many checks see it.
    await eventually(() => hook.bodies.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toMatchObject({ alert: { name: "budget", status: "firing" }, source: "metahuman-web" });
    expect(hook.bodies[0].text).toMatch(/^MetaHuman alert \(budget\): spend this month is \$\d+\.\d\d so far, on course for \$\d+\.\d\d: over the budget of \$30\.00$/);
    expect(hook.bodies[0].content).toBe(hook.bodies[0].text);

    const text = await (await fetch(`${web.url}/metrics`, { headers: MONITOR_HEADERS })).text();
    expect(metric(text, "metahuman_spend_projected_month_usd")).toBeCloseTo(m.projectedMonthUsd, 2);
    expect(text).toMatch(/metahuman_spend_month_to_date_usd\{family="pods"\} [\d.]+/);
    const health = await (await fetch(`${web.url}/api/health`, { headers: MONITOR_HEADERS })).json() as { alerts: Alert[] };
    expect(health.alerts.map((a) => a.name)).toContain("budget");
  });
});

describe("alerts reach a person once per episode", () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let web: Running | undefined;
  beforeAll(async () => { hook = await receiver(); });
  afterEach(async () => { await web?.close(); web = undefined; hook.bodies.length = 0; hook.fail(200); });
  afterAll(async () => hook.close());

  it("failing chats raise the error-rate alert once; after the window clears, a new episode is sent again", async () => {
    let clock = Date.parse("2026-12-01T10:00:00Z");
    const failing: LLMProvider = {
      name: "failing",
      generate: () => Promise.reject(new Error("down")),
      generateJSON: () => Promise.reject(new Error("down")),
      // eslint-disable-next-line require-yield
      async *stream() { throw new Error("the backend is down"); },
    };
    web = await startApp({ provider: failing, now: () => new Date(clock), alertCheckMs: 30, envExtra: { ALERT_WEBHOOK_URL: hook.url } });
    const { cookie } = await login(web.url);
    await readSse(await chat(web.url, cookie, "one"));
    await eventually(() => hook.bodies.length === 1);
    await readSse(await chat(web.url, cookie, "two"));
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.bodies.map((b) => b.alert.name)).toEqual(["error-rate"]);

    clock += 16 * 60_000; // the failures leave the 15-minute window: the episode ends at the next check (every 30 ms)
    await new Promise((r) => setTimeout(r, 500));
    await readSse(await chat(web.url, cookie, "three"));
    await eventually(() => hook.bodies.length === 2);
    expect(hook.bodies[1].alert).toMatchObject({ name: "error-rate", message: "1 of 1 chats failed in the last 15 min (over 5 %)" });
  });

  it("raises the storage alert over 80 % of the volume used, not at or under it", () => {
    const recent = new RecentChats(() => Date.parse("2026-12-01T10:00:00Z"));
    expect(recent.alerts(0.8)).toEqual([]);
    expect(recent.alerts(undefined)).toEqual([]);
    expect(recent.alerts(0.9104)).toEqual([{ name: "storage", message: "the volume is 91.0 % full (over 80 %)" }]);
  });

  it("a delivery that fails is tried again at the next check, and the warning never shows the URL", async () => {
    const warnings: string[] = [];
    const notifier = new AlertNotifier({ url: hook.url, warn: (m) => warnings.push(m) });
    const coldStart: Alert = { name: "cold-start", message: "p95 cold start 41.0 s (over 30 s)" };
    hook.fail(500);
    expect(await notifier.update([coldStart])).toEqual([]);
    hook.fail(200);
    expect(await notifier.update([coldStart])).toEqual(["cold-start"]);
    expect(await notifier.update([coldStart])).toEqual([]);
    expect(hook.bodies).toHaveLength(1);
    expect(warnings).toEqual([expect.stringContaining("answered HTTP 500 for the cold-start alert")]);
    expect(warnings.join()).not.toContain("secret-token-xyz");
  });
});
