// Finding 7 of issue 11: no `__Host-` prefix; with a duplicated cookie name the last one won (a
// neighbour under *.proxy.runpod.net could plant `door_session=junk; Domain=runpod.net` and lock a
// person out); a cross-site text/plain POST to /api/logout succeeded. Plus helmet's headers.
import { afterEach, describe, expect, it } from "vitest";
import { PASSWORD, login, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const sessionStatus = async (url: string, cookie: string) => (await fetch(`${url}/api/session`, { headers: { cookie } })).status;

async function loginCookie(url: string, username = "ada"): Promise<{ name: string; value: string; setCookie: string }> {
  const response = await fetch(`${url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  expect(response.status).toBe(200);
  const setCookie = response.headers.get("set-cookie")!;
  const [pair] = setCookie.split(";");
  const eq = pair!.indexOf("=");
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), setCookie };
}

describe("the session cookie", () => {
  it("is `__Host-` prefixed in production: Secure, Path=/, no Domain, HttpOnly, SameSite=Lax", async () => {
    running = await startApp({ envExtra: { NODE_ENV: "production" } });
    const { name, value, setCookie } = await loginCookie(running.url);
    expect(name).toBe("__Host-door_session");
    expect(setCookie).toMatch(/; Secure/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Lax/);
    expect(setCookie).not.toMatch(/Domain=/i);
    expect(await sessionStatus(running.url, `${name}=${value}`)).toBe(200);
    // The unprefixed name is what a neighbour can plant with a Domain: it is not read in production.
    expect(await sessionStatus(running.url, `door_session=${value}`)).toBe(401);
  });

  it("a planted junk cookie of the same name, before or after the real one, neither wins nor locks the person out", async () => {
    running = await startApp();
    const { value } = await loginCookie(running.url);
    for (const header of [`door_session=junk; door_session=${value}`, `door_session=${value}; door_session=junk`, `door_session=x.y; other=1; door_session=${value}`]) {
      expect(await sessionStatus(running.url, header), header.slice(0, 30)).toBe(200);
    }
  });

  it("the same in production with the `__Host-` name", async () => {
    running = await startApp({ envExtra: { NODE_ENV: "production" } });
    const { name, value } = await loginCookie(running.url);
    expect(await sessionStatus(running.url, `${name}=junk; ${name}=${value}`)).toBe(200);
    expect(await sessionStatus(running.url, `${name}=${value}; ${name}=junk`)).toBe(200);
  });

  it("two valid sessions of different users in one request count as none: a planted session cannot win", async () => {
    running = await startApp({ users: ["ada", "mallory"] });
    const ada = await loginCookie(running.url, "ada");
    const mallory = await loginCookie(running.url, "mallory");
    expect(await sessionStatus(running.url, `door_session=${mallory.value}; door_session=${ada.value}`)).toBe(401);
    expect(await sessionStatus(running.url, `door_session=${ada.value}; door_session=${mallory.value}`)).toBe(401);
  });
});

describe("cross-site requests", () => {
  it("a cross-site text/plain POST to /api/logout is refused and the session survives", async () => {
    running = await startApp();
    const { cookie } = await login(running.url);
    const attempts: [Record<string, string>, string | undefined, number][] = [
      [{ "content-type": "text/plain" }, "x", 415],
      [{ "content-type": "text/plain;charset=UTF-8", origin: "https://evil.example", "sec-fetch-site": "cross-site" }, "x", 403],
      [{ "content-type": "application/x-www-form-urlencoded" }, "a=b", 415],
      [{ "content-type": "multipart/form-data; boundary=x" }, "--x--", 415],
      [{ origin: "https://evil.example" }, undefined, 403],
      [{ "sec-fetch-site": "cross-site" }, undefined, 403],
      // Another pod under the same parent domain is "same-site", not same-origin.
      [{ "sec-fetch-site": "same-site", origin: "https://other-4321.proxy.runpod.net" }, undefined, 403],
      [{ origin: "null" }, undefined, 403],
      [{ "content-type": "application/json", origin: "https://evil.example" }, "{}", 403],
    ];
    for (const [headers, body, expected] of attempts) {
      const response = await fetch(`${running.url}/api/logout`, { method: "POST", headers: { cookie: cookie!, ...headers }, body });
      expect(response.status, JSON.stringify(headers)).toBe(expected);
      expect(response.headers.get("set-cookie")).toBeNull();
    }
    expect(await sessionStatus(running.url, cookie!)).toBe(200);
  });

  it("the page's own requests pass: same-origin fetches, a bodiless logout, and clients that send no browser headers", async () => {
    running = await startApp();
    const host = new URL(running.url).host;
    const ok = await fetch(`${running.url}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: `http://${host}`, "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ username: "ada", password: PASSWORD }),
    });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get("set-cookie")!.split(";")[0]!;
    // A browser without Sec-Fetch-Site: the Origin must be this host.
    expect((await fetch(`${running.url}/api/session`, { headers: { cookie } })).status).toBe(200);
    const logout = await fetch(`${running.url}/api/logout`, { method: "POST", headers: { cookie, origin: `http://${host}` } });
    expect(logout.status).toBe(200);
    expect(await sessionStatus(running.url, cookie)).toBe(401);
  });

  it("a cross-site form cannot log someone in (login CSRF) nor reach the chat", async () => {
    running = await startApp();
    const { cookie } = await login(running.url);
    const form = await fetch(`${running.url}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
      body: `username=ada&password=${encodeURIComponent(PASSWORD)}`,
    });
    expect(form.status).toBe(403);
    const plain = await fetch(`${running.url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "text/plain", cookie: cookie! },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    expect(plain.status).toBe(415);
  });
});

describe("security headers (@fastify/helmet)", () => {
  it("the page forbids framing, sniffing, referrers and foreign scripts; production adds HSTS", async () => {
    running = await startApp();
    const page = await fetch(`${running.url}/`);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = page.headers.get("content-security-policy")!;
    for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "script-src 'self'", "object-src 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("strict-transport-security")).toBeNull(); // plain HTTP in tests
    await running.close();
    running = await startApp({ envExtra: { NODE_ENV: "production" } });
    expect((await fetch(`${running.url}/api/health`)).headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
  });
});
