// The one HTTP helper against a real loopback server: one attempt's errors (redacted, bounded), the
// retry loop (Retry-After and its bound, backoff, what is retried), abortable waits.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ApiCallError, MetaHumanError, isRetryableStatus } from "../../src/common/errors";
import { backoffMs, parseRetryAfter, sendHttp, sleep, withRetries } from "../../src/common/http";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: Handler): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, hits: () => hits };
}

const KEY = "test-only-not-a-runpod-key-0123456789";

describe("sendHttp", () => {
  it("returns an OK response with its body unread", async () => {
    const server = await serve((_req, res) => res.end('{"ok":true}'));
    const response = await sendHttp({ url: server.url, method: "GET" });
    expect(await response.json()).toEqual({ ok: true });
  });

  it("sends JSON bodies with their content type", async () => {
    const server = await serve((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => res.end(JSON.stringify({ type: req.headers["content-type"], body: JSON.parse(body) })));
    });
    const response = await sendHttp({ url: server.url, method: "POST", body: { a: 1 } });
    expect(await response.json()).toEqual({ type: "application/json", body: { a: 1 } });
  });

  it("an upstream that echoes the request's key never gets it into the error", async () => {
    // What issue 11 found: an upstream answering with the request's headers put the key in messages.
    const server = await serve((req, res) => res.writeHead(500).end(JSON.stringify({ echo: req.headers, also: `Bearer ${KEY}` })));
    const error = await sendHttp({ url: server.url, method: "GET", headers: { authorization: `Bearer ${KEY}` } }).catch((e) => e);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ status: 500, isRetryable: true, url: server.url, method: "GET" });
    const everything = `${error.message}\n${error.responseBody}\n${error.stack}\n${JSON.stringify(error)}`;
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(KEY.slice(4));
    expect(error.responseBody).toContain("[redacted]");
  });

  it("bounds the body kept in the error", async () => {
    const server = await serve((_req, res) => res.writeHead(502).end("x".repeat(100_000)));
    const error = await sendHttp({ url: server.url, method: "GET" }).catch((e) => e);
    expect(error.responseBody.length).toBeLessThanOrEqual(501);
    expect(error.message.length).toBeLessThan(700);
  });

  it("reads Retry-After into the error", async () => {
    const server = await serve((_req, res) => res.writeHead(429, { "retry-after": "7" }).end());
    const error = await sendHttp({ url: server.url, method: "GET" }).catch((e) => e);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7000, isRetryable: true });
  });

  it("no answer: a retryable error without status; our timeout says so", async () => {
    const refused = await sendHttp({ url: "http://127.0.0.1:1/x", method: "GET" }).catch((e) => e);
    expect(refused).toMatchObject({ status: undefined, isRetryable: true, timedOut: false });
    const slow = await serve(() => undefined);
    const timedOut = await sendHttp({ url: slow.url, method: "GET", timeoutMs: 100 }).catch((e) => e);
    expect(timedOut).toMatchObject({ status: undefined, isRetryable: true, timedOut: true });
    expect(timedOut.message).toBe(`GET ${slow.url} got no answer within 100 ms`);
  });

  it("passes the caller's abort through as it is", async () => {
    const slow = await serve(() => undefined);
    const controller = new AbortController();
    const reason = new Error("the user left");
    setTimeout(() => controller.abort(reason), 50);
    await expect(sendHttp({ url: slow.url, method: "GET", signal: controller.signal })).rejects.toBe(reason);
  });
});

describe("withRetries", () => {
  const fast = { baseDelayMs: 1, maxDelayMs: 1000 };

  it("retries retryable failures, then succeeds", async () => {
    let n = 0;
    const server = await serve((_req, res) => (++n < 3 ? res.writeHead(503).end() : res.end("ok")));
    const response = await withRetries(() => sendHttp({ url: server.url, method: "GET" }), { ...fast, maxRetries: 3 });
    expect(await response.text()).toBe("ok");
    expect(server.hits()).toBe(3);
  });

  it("throws a non-retryable first failure as it is, after one attempt", async () => {
    const server = await serve((_req, res) => res.writeHead(400).end("bad"));
    const error = await withRetries(() => sendHttp({ url: server.url, method: "GET" }), { ...fast, maxRetries: 3 }).catch((e) => e);
    expect(error).toMatchObject({ status: 400, isRetryable: false });
    expect(server.hits()).toBe(1);
  });

  it("stops after maxRetries and throws the last failure", async () => {
    const server = await serve((_req, res) => res.writeHead(502).end());
    await expect(withRetries(() => sendHttp({ url: server.url, method: "GET" }), { ...fast, maxRetries: 2 })).rejects.toMatchObject({ status: 502 });
    expect(server.hits()).toBe(3);
  });

  it("waits out Retry-After, and gives up at once when it is beyond the bound", async () => {
    let n = 0;
    const server = await serve((_req, res) => (++n === 1 ? res.writeHead(429, { "retry-after": "1" }).end() : res.end("ok")));
    const started = Date.now();
    await withRetries(() => sendHttp({ url: server.url, method: "GET" }), { ...fast, maxRetries: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    const far = await serve((_req, res) => res.writeHead(429, { "retry-after": "120" }).end());
    const error = await withRetries(() => sendHttp({ url: far.url, method: "GET" }), { ...fast, maxRetries: 3, maxDelayMs: 5000 }).catch((e) => e);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 120_000 });
    expect(far.hits()).toBe(1);
  });

  it("asks shouldRetry, and never retries what is not one of ours", async () => {
    const server = await serve((_req, res) => res.writeHead(500).end());
    await expect(withRetries(() => sendHttp({ url: server.url, method: "POST" }), { ...fast, maxRetries: 3, shouldRetry: (e) => ApiCallError.isInstance(e) && e.status === 429 })).rejects.toMatchObject({ status: 500 });
    expect(server.hits()).toBe(1);
    let calls = 0;
    const plain = new Error("a bug, not a failed call");
    await expect(withRetries(async () => { calls++; throw plain; }, { ...fast, maxRetries: 3 })).rejects.toBe(plain);
    expect(calls).toBe(1);
  });

  it("an abort during the wait ends it at once with the caller's reason", async () => {
    const controller = new AbortController();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new MetaHumanError({ name: "Flaky", message: "again", isRetryable: true });
    };
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("stop")), 50);
    await expect(withRetries(failing, { maxRetries: 5, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 1, signal: controller.signal })).rejects.toThrow("stop");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toBe(1);
  });
});

describe("the small pieces", () => {
  it("one status rule: 408, 409, 429 and 5xx are retryable", () => {
    expect([400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503].filter(isRetryableStatus)).toEqual([408, 409, 429, 500, 502, 503]);
  });

  it("parses Retry-After seconds and HTTP dates", () => {
    expect(parseRetryAfter("12")).toBe(12_000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("backs off exponentially with full jitter, capped", () => {
    expect(backoffMs(0, 100, 1000, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 1000, () => 1)).toBe(800);
    expect(backoffMs(10, 100, 1000, () => 1)).toBe(1000);
    expect(backoffMs(3, 100, 1000, () => 0.25)).toBe(200);
  });

  it("sleep resolves after its time and rejects at once on abort", async () => {
    const started = Date.now();
    await sleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    controller.abort(new Error("already"));
    await expect(sleep(10_000, controller.signal)).rejects.toThrow("already");
  });
});
