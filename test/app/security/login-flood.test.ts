// Finding 1 of issue 11, the part about load: 300 parallel guesses filled libuv's 4 threads with
// scrypt, and a chat (whose file writes need those threads too) took 23 s instead of 43 ms.
import { afterEach, describe, expect, it } from "vitest";
import { chat, login, readSse, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe("a flood of logins", () => {
  it("does not stall a logged-in person's chat", { timeout: 60_000 }, async () => {
    running = await startApp({ envExtra: { TRUST_PROXY_HOPS: "1", LOGIN_RATE_LIMIT_PER_MINUTE: "1000", CHAT_RATE_LIMIT_PER_MINUTE: "1000" } });
    const url = running.url;
    const { cookie } = await login(url);
    const quiet = performance.now();
    await readSse(await chat(url, cookie, "before the flood"));
    const quietMs = performance.now() - quiet;

    const flood = Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        fetch(`${url}/api/login`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": `198.51.${i >> 8}.${i & 255}` },
          body: JSON.stringify({ username: `guess${i}`, password: "not the password" }),
        }).then((r) => r.status),
      ),
    );
    await new Promise((r) => setTimeout(r, 100)); // the flood is in
    const started = performance.now();
    const events = await readSse(await chat(url, cookie, "during the flood"));
    const floodMs = performance.now() - started;
    const statuses = await flood;
    console.log(`chat alone ${quietMs.toFixed(0)} ms, during 300 parallel logins ${floodMs.toFixed(0)} ms; logins: ${statuses.filter((s) => s === 401).length}×401, ${statuses.filter((s) => s === 429).length}×429`);
    expect(events.at(-1)?.event).toBe("done");
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(floodMs).toBeLessThan(5_000); // 32 s before the cap on this machine; under 1 s after
  });
});
