// Finding 9 of issue 11: /metrics and /api/health were public (Node version, failed logins,
// volume usage, endpoint id, worker state); every health call made one upstream call with the
// RunPod key; every metrics scrape wrote a probe file to the volume.
import * as fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createMockProvider } from "../../../src/app/llm/mock";
import { MONITOR_HEADERS, login, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe("health and metrics", () => {
  it("public /api/health answers the status only; the token or an admin's session gets the details", async () => {
    running = await startApp({ users: ["ada", "root-admin"], envExtra: { ADMIN_USERS: "root-admin" } });
    const anonymous = await fetch(`${running.url}/api/health`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: "ok" });

    const wrongToken = await fetch(`${running.url}/api/health`, { headers: { authorization: "Bearer not-the-token-at-all-0123456789abcdef" } });
    expect(await wrongToken.json()).toEqual({ status: "ok" });

    const { cookie: userCookie } = await login(running.url, "ada");
    expect(await (await fetch(`${running.url}/api/health`, { headers: { cookie: userCookie! } })).json()).toEqual({ status: "ok" });

    const withToken = await (await fetch(`${running.url}/api/health`, { headers: MONITOR_HEADERS })).json();
    expect(withToken).toMatchObject({ status: "ok", volume: { writable: true }, llm: { provider: "mock", ok: true }, alerts: [] });

    const { cookie: adminCookie } = await login(running.url, "root-admin");
    expect(await (await fetch(`${running.url}/api/health`, { headers: { cookie: adminCookie! } })).json()).toMatchObject({ llm: { provider: "mock" } });
  });

  it("an unhealthy status is still a 503 without the details", async () => {
    running = await startApp({ provider: createMockProvider({ healthy: false }) });
    const response = await fetch(`${running.url}/api/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "unhealthy" });
  });

  it("/metrics needs the token or an admin's session", async () => {
    running = await startApp({ users: ["ada", "boss"], envExtra: { ADMIN_USERS: "boss" } });
    const anonymous = await fetch(`${running.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await anonymous.text()).not.toMatch(/metahuman_|nodejs_version/);
    const { cookie: userCookie } = await login(running.url, "ada");
    expect((await fetch(`${running.url}/metrics`, { headers: { cookie: userCookie! } })).status).toBe(401);
    expect((await fetch(`${running.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const withToken = await fetch(`${running.url}/metrics`, { headers: MONITOR_HEADERS });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toMatch(/metahuman_http_requests_total/);
    const { cookie: bossCookie } = await login(running.url, "boss");
    expect((await fetch(`${running.url}/metrics`, { headers: { cookie: bossCookie! } })).status).toBe(200);
  });

  it("with no MONITORING_TOKEN set, no Bearer value unlocks anything", async () => {
    running = await startApp({ envExtra: { MONITORING_TOKEN: "" } });
    for (const authorization of ["Bearer ", "Bearer undefined", "Bearer null", "Bearer  "]) {
      expect((await fetch(`${running.url}/metrics`, { headers: { authorization } })).status).toBe(401);
    }
  });

  it("probes the upstream at most once per ~10 s however often /api/health is called", async () => {
    let probes = 0;
    const mock = createMockProvider();
    running = await startApp({
      provider: {
        ...mock,
        health: async () => {
          probes++;
          return { ok: true, detail: "counted" };
        },
      },
    });
    const url = running.url;
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await fetch(`${url}/api/health`)).status));
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${url}/api/health`)).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(probes).toBe(1);
  });

  it("a metrics scrape never writes to the volume", async () => {
    running = await startApp();
    const root = running.root;
    await fetch(`${running.url}/metrics`, { headers: MONITOR_HEADERS });
    const before = fs.statSync(root).mtimeMs;
    const listing = fs.readdirSync(root).sort();
    await new Promise((r) => setTimeout(r, 20)); // so a write would show as a later mtime
    for (let i = 0; i < 10; i++) {
      const text = await (await fetch(`${running.url}/metrics`, { headers: MONITOR_HEADERS })).text();
      expect(text).toMatch(/metahuman_volume_writable 1/);
    }
    expect(fs.statSync(root).mtimeMs).toBe(before);
    expect(fs.readdirSync(root).sort()).toEqual(listing);
  });
});
