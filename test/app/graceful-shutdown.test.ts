// SIGTERM with chats open, with the real server process against the emulator's job API: new chats
// get 503 in words at once, a chat that ends within SHUTDOWN_GRACE_MS ends normally, one that does
// not is stopped with words and its RunPod job ends CANCELLED; the process exits 0.
import * as fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { API_KEY, listJobs, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import { PASSWORD, chat, login, readSse, tempRoot, type SseMessage } from "./helpers";
import { runpodServerEnv, startServer, waitFor, type ServerChild } from "./server-child";

let emu: RunningEmulator | undefined;
let server: ServerChild | undefined;
let root: string | undefined;
afterEach(async () => {
  if (server && server.proc.exitCode === null) server.proc.kill("SIGKILL");
  server = undefined;
  await emu?.close();
  emu = undefined;
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
});

type Job = { id: string; status: string; input: { messages: Array<{ content: string }> } };
const jobs = (e: RunningEmulator): Promise<Job[]> => listJobs<Job>(e);

describe("graceful shutdown", () => {
  it("refuses new chats with 503, lets a short chat finish, cancels the long one's job after the grace, exits 0", async () => {
    // The echo worker streams one word per 150 ms: "hi there" ends in well under the grace, 80 words do not.
    emu = await startEmulator({ inProcess: { tokenDelayMs: 150 } });
    root = tempRoot();
    await setPassword(MetaHumanPaths.open(root), "ada", PASSWORD);
    const graceMs = 3_000;
    server = startServer(runpodServerEnv(emu, root, { SHUTDOWN_GRACE_MS: String(graceMs) }));
    const url = await server.url();
    const { cookie } = await login(url);

    const longText = Array.from({ length: 80 }, (_, i) => `word${i}`).join(" ");
    const longEvents: SseMessage[] = [];
    const longChat = chat(url, cookie, longText).then(async (r) => longEvents.push(...(await readSse(r))));
    await waitFor(async () => (await jobs(emu!)).some((j) => j.status === "IN_PROGRESS"), "the long chat's job to run");
    const shortChat = chat(url, cookie, "hi there").then(readSse);
    await waitFor(async () => (await jobs(emu!)).length === 2, "the short chat's job");

    const signalled = Date.now();
    server.proc.kill("SIGTERM");
    await waitFor(() => server!.output().includes("shutting down"), "the shutdown to begin");
    const refused = await chat(url, cookie, "one more");
    expect(refused.status).toBe(503);
    expect((await refused.json()).error).toBe("The server is restarting. Please send your message again in a moment.");

    const shortEvents = await shortChat;
    expect(shortEvents.at(-1)?.event).toBe("done");
    expect(shortEvents.filter((e) => e.event === "delta").map((e) => e.data.text).join("")).toBe("hi there");

    expect(await server.exited).toBe(0);
    const took = Date.now() - signalled;
    await longChat;
    expect(longEvents.some((e) => e.event === "delta")).toBe(true);
    expect(longEvents.at(-1)).toEqual({ event: "error", data: { message: "The server is restarting, so this answer was stopped. Please send your message again in a moment.", retryable: true } });
    // The long chat had its grace, and no more than that plus the cancel.
    expect(took).toBeGreaterThanOrEqual(graceMs);
    expect(took).toBeLessThan(graceMs + 8_000);

    const byText = new Map((await jobs(emu)).map((j) => [j.input.messages.at(-1)!.content, j.status]));
    expect(Object.fromEntries(byText)).toEqual({ [longText]: "CANCELLED", "hi there": "COMPLETED" });
    expect(server.output()).not.toContain(API_KEY);
  }, 40_000);
});
