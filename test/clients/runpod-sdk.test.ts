// RunPod's npm client, runpod-sdk (1.1.2), against `npm run emulator` with a real SDK worker: each Endpoint method
// (runSync, run with and without a webhook, status, statusSync, stream, cancel, health, purgeQueue) through the
// package's own HTTP code.
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { until } from "../e2e/local-helpers";
import { outputText, startEmulatorCommand, type EmulatorCommand } from "./emulator-command";

// An ES module, imported as such from this CommonJS test file.
type RunpodSdk = (typeof import("runpod-sdk", { with: { "resolution-mode": "import" } }))["default"];
type SdkEndpoint = NonNullable<ReturnType<ReturnType<RunpodSdk>["endpoint"]>>;

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: "user", content }], temperature: 0, ...extra });
const longChat = () => chat(Array.from({ length: 300 }, (_, i) => `w${i}`).join(" "), { max_tokens: 300 });

describe("runpod-sdk (npm) against npm run emulator", () => {
  let emu: EmulatorCommand;
  let endpoint: SdkEndpoint;
  // The webhook receiver, started first: the emulator calls only the origins it is started with.
  let resolveHook: (body: Record<string, unknown>) => void;
  const received = new Promise<Record<string, unknown>>((resolve) => (resolveHook = resolve));
  const hook = createServer((req, res) => {
    let text = "";
    req.on("data", (d: Buffer) => (text += d.toString("utf8")));
    req.on("end", () => {
      res.end();
      resolveHook(JSON.parse(text));
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    const hookOrigin = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
    emu = await startEmulatorCommand({ env: { ECHO_TOKEN_DELAY_MS: "20", EMULATOR_WEBHOOK_ORIGINS: hookOrigin } });
    const { default: runpodSdk } = await import("runpod-sdk");
    endpoint = runpodSdk(emu.apiKey, { baseUrl: emu.serverlessUrl }).endpoint(emu.endpointId)!;
    // runSync prints one line per poll with console.log.
    vi.spyOn(console, "log").mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    hook.close();
    expect(await emu.interrupt()).toBe(0);
  });

  it("purgeQueue drops the jobs queued during a cold start (first: no worker is up yet)", async () => {
    expect((await endpoint.health()).workers).toMatchObject({ ready: 0, initializing: 0 });
    const queued = [await endpoint.run({ input: chat("queued one") }), await endpoint.run({ input: chat("queued two") })];
    expect(queued.map((j) => j.status)).toEqual(["IN_QUEUE", "IN_QUEUE"]);
    expect(await endpoint.purgeQueue()).toEqual({ removed: 2, status: "completed" });
    // The SDK hands back the HTTP status instead of a job once it is gone.
    const gone = (await endpoint.status(queued[0]!.id).catch((err: { response?: { status: number } }) => ({ status: err.response?.status }))) as { status: unknown };
    expect(gone.status).toBe(404);
  });

  it("health: jobs and workers", async () => {
    const health = await endpoint.health();
    expect(Object.keys(health.jobs).sort()).toEqual(["completed", "failed", "inProgress", "inQueue", "retried"]);
    expect(health.workers).toMatchObject({ idle: expect.any(Number), initializing: expect.any(Number), ready: expect.any(Number), running: expect.any(Number) });
  });

  it("runSync: /runsync then /status-sync until COMPLETED, with the output", async () => {
    const result = (await endpoint.runSync({ input: chat("one two three four five", { max_tokens: 3 }) }, 60_000)) as unknown as Record<string, unknown>;
    expect(result).toMatchObject({ status: "COMPLETED", completed: true, succeeded: true });
    expect(outputText(result.output)).toBe("one two three");
  });

  it("run, status and statusSync", async () => {
    const job = await endpoint.run({ input: chat("polled by the npm sdk", { max_tokens: 8 }) });
    expect(job).toEqual({ id: expect.any(String), status: "IN_QUEUE" });
    const status = (await endpoint.status(job.id)) as unknown as { status: string; started: boolean };
    expect(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]).toContain(status.status);
    const done = (await endpoint.statusSync(job.id, 30_000)) as unknown as { status: string; output: unknown; completed: boolean };
    expect(done).toMatchObject({ status: "COMPLETED", completed: true });
    expect(outputText(done.output)).toBe("polled by the npm sdk");
  });

  it("run with a webhook: the final status is POSTed to it", async () => {
    const webhook = `http://127.0.0.1:${(hook.address() as { port: number }).port}/runpod`;
    void endpoint.run({ input: chat("tell the webhook", { max_tokens: 8 }), webhook });
    const body = await received;
    expect(body).toMatchObject({ status: "COMPLETED", id: expect.any(String) });
    expect(outputText(body.output)).toBe("tell the webhook");
  });

  it("stream: the job's chunks in order until it is final", async () => {
    const job = await endpoint.run({ input: chat("streamed to the npm sdk", { max_tokens: 16, stream: true }) });
    // worker-vllm's stream chunks: {choices: [{tokens: [...]}], usage}.
    const chunks: Array<{ output: { choices: Array<{ tokens: string[] }>; usage: { output: number } } }> = [];
    for await (const chunk of endpoint.stream(job.id)) chunks.push(chunk as (typeof chunks)[number]);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => typeof c.output.usage.output === "number")).toBe(true);
    expect(chunks.map((c) => c.output.choices[0]!.tokens.join("")).join("")).toBe("streamed to the npm sdk");
  });

  it("cancel: a running job becomes CANCELLED", async () => {
    const job = await endpoint.run({ input: longChat() });
    await until("the job to run", async () => ((await endpoint.status(job.id)) as { status: string }).status === "IN_PROGRESS", 30_000);
    expect(await endpoint.cancel(job.id)).toEqual({ id: job.id, status: "CANCELLED" });
    expect(((await endpoint.status(job.id)) as { status: string }).status).toBe("CANCELLED");
  });
});
