// Finding 1 of issue 11: the login limit could be dodged with X-Forwarded-For, there was no
// limit per account, and parallel logins filled libuv's threads with password hashes.
import { afterEach, describe, expect, it } from "vitest";
import { PASSWORD, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

function login(url: string, username: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ username, password }),
  });
}

describe("login limits", () => {
  it("key on the socket's address by default: a new X-Forwarded-For per guess does not reset the limit", async () => {
    running = await startApp({ envExtra: { LOGIN_RATE_LIMIT_PER_MINUTE: "5" } });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await login(running.url, "ada", `wrong password ${i}`, { "x-forwarded-for": `203.0.113.${i}` })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual(Array(7).fill(429));
    const limited = await login(running.url, "ada", PASSWORD, { "x-forwarded-for": "198.51.100.1" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ error: "Too many login attempts. Please wait a minute." });
  });

  it("with TRUST_PROXY_HOPS=1 take the address the proxy appended, not one the client wrote before it", async () => {
    running = await startApp({ envExtra: { LOGIN_RATE_LIMIT_PER_MINUTE: "3", TRUST_PROXY_HOPS: "1" } });
    // The client forges a new first entry each time; the proxy's entry (the last) stays the same.
    const forged: number[] = [];
    for (let i = 0; i < 5; i++) forged.push((await login(running.url, "ada", "wrong password!", { "x-forwarded-for": `10.9.9.${i}, 203.0.113.7` })).status);
    expect(forged).toEqual([401, 401, 401, 429, 429]);
    // Another client behind the same proxy is not limited by the first.
    expect((await login(running.url, "ada", PASSWORD, { "x-forwarded-for": "203.0.113.8" })).status).toBe(200);
  });

  it("limit guesses per account from any address, without limiting other accounts", async () => {
    running = await startApp({ users: ["ada", "bob"], envExtra: { TRUST_PROXY_HOPS: "1", LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES: "4" } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(running.url, "ada", `guess number ${i}`, { "x-forwarded-for": `203.0.113.${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    // Any spelling of the name counts for the same account.
    expect((await login(running.url, "ADA", "another guess", { "x-forwarded-for": "203.0.113.50" })).status).toBe(429);
    expect((await login(running.url, "bob", PASSWORD, { "x-forwarded-for": "203.0.113.51" })).status).toBe(200);
  });

  it("cap the password hashes running at once: a burst of parallel logins is refused with 429, never queued without bound", async () => {
    running = await startApp({
      envExtra: { TRUST_PROXY_HOPS: "1", LOGIN_RATE_LIMIT_PER_MINUTE: "1000" },
      passwordConcurrency: { running: 1, waiting: 3 },
    });
    const url = running.url;
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(url, `user${i}`, "not the password", { "x-forwarded-for": `203.0.113.${i}` })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const busy = responses.filter((r) => r.status === 429);
    expect(busy.length).toBeGreaterThanOrEqual(10); // 1 running + 3 waiting at a time, 30 arriving together
    expect(await busy[0]!.json()).toEqual({ error: "Too many logins at once. Please try again in a moment." });
    expect(busy[0]!.headers.get("retry-after")).toBe("1");
    // Once the burst is over, a login works again.
    expect((await login(url, "ada", PASSWORD, { "x-forwarded-for": "203.0.113.200" })).status).toBe(200);
  });
});
