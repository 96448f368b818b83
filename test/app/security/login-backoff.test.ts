// Finding M4 of issue 18: behind RunPod's proxy every client shared one address (TRUST_PROXY_HOPS=0), and
// fifteen wrong logins locked every user out for about 40 s. Now failures cost the one who sends them: a
// browser that has logged in before has a budget of its own, and inside a RunPod pod the client address is
// the one RunPod's proxy chain appended.
import { afterEach, describe, expect, it } from "vitest";
import { parseWebEnv } from "../../../src/app/env";
import { PASSWORD, TEST_SECRET, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

interface Attempt {
  status: number;
  retryAfter: number;
  error?: string;
  /** name=value of each cookie the answer set. */
  cookies: Record<string, string>;
}

async function login(url: string, username: string, password: string, headers: Record<string, string> = {}): Promise<Attempt> {
  const response = await fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { error?: string };
  const cookies = Object.fromEntries(response.headers.getSetCookie().map((c) => c.split(";")[0]!.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return { status: response.status, retryAfter: Number(response.headers.get("retry-after") ?? 0), error: body.error, cookies };
}

describe("a flood of wrong passwords from the owner's own address", () => {
  it("fifteen wrong logins from the shared proxy address slow the attacker and leave the owner's browser a correct login", async () => {
    // TRUST_PROXY_HOPS=0: every request comes from 127.0.0.1, as every client did behind RunPod's proxy.
    running = await startApp({ envExtra: { TRUST_PROXY_HOPS: "0" } });
    const url = running.url;
    // The owner's browser has logged in before: it holds a session and a device cookie.
    const earlier = await login(url, "ada", PASSWORD);
    expect(earlier.status).toBe(200);
    const device = `door_device=${earlier.cookies.door_device}`;
    expect(earlier.cookies.door_device).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);

    const attacker: Attempt[] = [];
    for (let i = 0; i < 15; i++) attacker.push(await login(url, "ada", `wrong password ${i}`));
    const statuses = attacker.map((a) => a.status);
    // The attacker is slowed: ten guesses a minute (LOGIN_RATE_LIMIT_PER_MINUTE), then refused without a check.
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
    expect(attacker[14]!.retryAfter).toBeGreaterThan(0);
    expect(attacker[14]!.error).toBe("Too many login attempts. Please wait a minute.");
    // Even the right password from an unknown browser on that address waits: it cannot be told from the attacker.
    expect((await login(url, "ada", PASSWORD)).status).toBe(429);

    // The owner's browser: a typo costs its own budget only, and the right password gets in.
    expect((await login(url, "ada", "owner typo here", { cookie: device })).status).toBe(401);
    const owner = await login(url, "ada", PASSWORD, { cookie: device });
    expect(owner.status).toBe(200);
    expect(owner.cookies.door_session).toBeTruthy();
    // The attacker, still without the owner's cookie, is still refused.
    expect((await login(url, "ada", "wrong password 15")).status).toBe(429);
  });

  it("guesses spread over many addresses close the account to unknown browsers only", async () => {
    running = await startApp({ users: ["ada", "bob"], envExtra: { TRUST_PROXY_HOPS: "1", LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES: "6" } });
    const url = running.url;
    const device = `door_device=${(await login(url, "ada", PASSWORD, { "x-forwarded-for": "198.51.100.7" })).cookies.door_device}`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await login(url, "ada", `guess ${i}`, { "x-forwarded-for": `203.0.113.${i}` })).status);
    expect(statuses).toEqual([...Array(6).fill(401), ...Array(4).fill(429)]);
    expect((await login(url, "ada", PASSWORD, { "x-forwarded-for": "203.0.113.99" })).status).toBe(429);
    expect((await login(url, "ada", PASSWORD, { "x-forwarded-for": "198.51.100.7", cookie: device })).status).toBe(200);
    // Another account's device cookie does not open ada's budget, and a forged one is ignored.
    const bobDevice = `door_device=${(await login(url, "bob", PASSWORD, { "x-forwarded-for": "198.51.100.8" })).cookies.door_device}`;
    expect((await login(url, "ada", PASSWORD, { "x-forwarded-for": "198.51.100.8", cookie: bobDevice })).status).toBe(429);
    const forged = device.replace(/\.(.)/, (_m, c: string) => `.${c === "A" ? "B" : "A"}`);
    expect((await login(url, "ada", PASSWORD, { "x-forwarded-for": "198.51.100.9", cookie: forged })).status).toBe(429);
  });

  it("a known browser that keeps guessing wrong is limited too", async () => {
    running = await startApp({ envExtra: { TRUST_PROXY_HOPS: "0", LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES: "3" } });
    const url = running.url;
    const device = `door_device=${(await login(url, "ada", PASSWORD)).cookies.door_device}`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(url, "ada", `not it ${i}`, { cookie: device })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await login(url, "ada", PASSWORD, { cookie: device })).error).toBe("Too many login attempts for this account. Please wait a few minutes.");
  });

  it("a right password does not use up the budget: twelve logins in a minute from one address all get in", async () => {
    running = await startApp({ envExtra: { TRUST_PROXY_HOPS: "0" } });
    for (let i = 0; i < 12; i++) expect((await login(running.url, "ada", PASSWORD)).status).toBe(200);
  });
});

describe("the client address inside a RunPod pod", () => {
  const base = { LLM_PROVIDER: "mock", METAHUMAN_ROOT: "/runpod-volume/metahuman", SESSION_SECRET: TEST_SECRET };

  it("defaults TRUST_PROXY_HOPS to 1 where RunPod sets RUNPOD_POD_ID, 0 elsewhere, and keeps what the operator set", () => {
    expect(parseWebEnv({ ...base, RUNPOD_POD_ID: "abc123xyz" }).TRUST_PROXY_HOPS).toBe(1);
    expect(parseWebEnv(base).TRUST_PROXY_HOPS).toBe(0);
    expect(parseWebEnv({ ...base, RUNPOD_POD_ID: "abc123xyz", TRUST_PROXY_HOPS: "0" }).TRUST_PROXY_HOPS).toBe(0);
    expect(parseWebEnv({ ...base, RUNPOD_POD_ID: "abc123xyz", TRUST_PROXY_HOPS: "2" }).TRUST_PROXY_HOPS).toBe(2);
    expect(() => parseWebEnv({ ...base, RUNPOD_POD_ID: "abc123xyz", TRUST_PROXY_HOPS: "lots" })).toThrow(/TRUST_PROXY_HOPS must be a whole number from 0 to 5 \(got "lots"\)/);
  });

  it("keys the address on the entry the proxy appended, not one the client wrote before it", async () => {
    running = await startApp({ envExtra: { RUNPOD_POD_ID: "abc123xyz", LOGIN_RATE_LIMIT_PER_MINUTE: "3" } });
    const url = running.url;
    const forged: number[] = [];
    for (let i = 0; i < 5; i++) forged.push((await login(url, "ada", "wrong password!", { "x-forwarded-for": `10.9.9.${i}, 203.0.113.7` })).status);
    expect(forged).toEqual([401, 401, 401, 429, 429]);
    // Another client behind the same proxy has its own budget.
    expect((await login(url, "ada", "wrong password!", { "x-forwarded-for": "203.0.113.8" })).status).toBe(401);
  });
});
