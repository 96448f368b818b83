// The front door and the pod's start with the real MetaHuman OS (built at the pin, unmodified): one login and one
// logout for the person, MetaHuman OS's account made once with a password stored nowhere, and the starts the pod
// refuses (a broken etc/ file, a METAHUMAN_ROOT that does not exist) before MetaHuman OS runs.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metahumanOsPassword } from "../../src/app/metahuman-os/owner";
import { TEST_SECRET } from "../app/helpers";
import { startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import { doorLogin, runPodUntilExit, startPod, withCookies, type RunningPod, filesUnder } from "./pod-fixture";

const post = (url: string, body: unknown, cookie?: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });

const me = async (url: string, cookie: string) => {
  const response = await fetch(`${url}/api/auth/me`, { headers: { cookie, accept: "application/json" } });
  return { response, body: response.ok ? ((await response.json()) as { user?: { username: string; role: string } }) : undefined };
};

describe("the front door with MetaHuman OS", () => {
  let emu: RunningEmulator;
  let pod: RunningPod;

  beforeAll(async () => {
    emu = await startEmulator({ executor: "in-process" });
    // The image's PATH: Node and the system's tools, no node_modules/.bin (so no `tsx` for MetaHuman OS to spawn).
    pod = await startPod(emu, { env: { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` } });
  }, 120_000);
  afterAll(async () => {
    await pod?.stop();
    await emu?.close();
  });

  it("gives a request with the door's cookie and no mh_session MetaHuman OS's session; the account is made once and its password is stored nowhere", async () => {
    const users = () => JSON.parse(fs.readFileSync(path.join(pod.root, "persona", "users.json"), "utf8")) as unknown;
    for (let round = 0; round < 2; round++) {
      const doorOnly = await doorLogin(pod.url);
      expect(doorOnly).not.toMatch(/mh_session=/);
      const { response, body } = await me(pod.url, doorOnly);
      expect(response.status, `round ${round}`).toBe(200);
      expect(body?.user).toMatchObject({ username: "ada", role: "owner" });
      const session = response.headers.getSetCookie().find((c) => c.startsWith("mh_session="));
      expect(session, `round ${round}`).toMatch(/^mh_session=[^;]+;.*HttpOnly/i);
      // The session it was given works on its own next to the door's cookie.
      expect((await me(pod.url, withCookies(doorOnly, response))).body?.user?.username).toBe("ada");
    }
    // One account in MetaHuman OS, however many times the door logged the person in.
    const text = JSON.stringify(users());
    expect(text.match(/"username":\s*"ada"/g)).toHaveLength(1);
    const password = metahumanOsPassword("ada", TEST_SECRET);
    for (const { file, text: content } of filesUnder(pod.root)) expect(content.includes(password), file).toBe(false);
    expect(pod.output()).not.toContain(password);
  });

  it("answers the owner's POST /api/execute and /api/process-stream (MetaHuman OS's command line, a shell) with a 404 in words, and MetaHuman OS keeps running", async () => {
    let cookie = await doorLogin(pod.url);
    cookie = withCookies(cookie, await fetch(`${pod.url}/api/auth/me`, { headers: { cookie } }));
    const before = pod.metahumanPid();
    const response = await post(`${pod.url}/api/execute`, { command: "status" }, cookie);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("There is no MetaHuman OS command line on this pod.");
    // Nor its process stream: bash with any arguments, as the user whose door process holds the RunPod key.
    const shell = await post(`${pod.url}/api/process-stream`, { command: "bash", args: ["-c", "cat /proc/*/environ"] }, cookie);
    expect(shell.status).toBe(404);
    const shellText = await shell.text();
    expect(shellText).toContain("There is no MetaHuman OS command line on this pod.");
    expect(shellText).not.toContain(TEST_SECRET);
    // Its spawn of `tsx` fails on this PATH and, unhandled, used to end MetaHuman OS and the pod with it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pod.proc.exitCode).toBeNull();
    expect(pod.metahumanPid()).toBe(before);
    expect((await me(pod.url, cookie)).response.status).toBe(200);
  });

  it("answers the owner's requests that start, install, train, switch or update programs with a 404 in words; six of them used to end MetaHuman OS and the pod", async () => {
    let cookie = await doorLogin(pod.url);
    cookie = withCookies(cookie, await fetch(`${pod.url}/api/auth/me`, { headers: { cookie } }));
    const before = pod.metahumanPid();
    const backendFile = path.join(pod.root, "etc", "llm-backend.json");
    const backendBefore = fs.readFileSync(backendFile, "utf8");
    // Each one, measured on this PATH without the door's rule: MetaHuman OS exited and the pod with it (the spawn of
    // `tsx`, `ollama` or bin/start-interpreter failed unhandled; the restart route exits on purpose).
    const requests: Array<[string, string, unknown | undefined]> = [
      ["POST", "/api/adapters", { action: "fullCycle" }],
      ["POST", "/api/training/launch", { method: "local-lora", trainingConfig: {} }],
      ["POST", "/api/interpreter-status", { action: "start" }],
      ["POST", "/api/llm-backend/ollama", { action: "start" }],
      ["PUT", "/api/llm-backend/config", { activeBackend: "vllm" }],
      ["POST", "/api/llm-backend/switch", { backend: "ollama" }],
      ["POST", "/api/llm-backend/vllm", { action: "start" }],
      ["POST", "/api/server-update/restart", {}],
      // The add-on installers run bin/install-*.sh from the volume.
      ["POST", "/api/addons/install", { addonId: "kokoro" }],
      ["GET", "/api/addons/install-stream?addonId=kokoro", undefined],
      ["POST", "/api/kokoro-addon", { action: "install" }],
      ["POST", "/api/rvc-addon", { action: "install" }],
    ];
    for (const [method, route, body] of requests) {
      const response = await fetch(`${pod.url}${route}`, { method, headers: { "content-type": "application/json", cookie }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect(response.status, `${method} ${route}`).toBe(404);
      expect(await response.text(), `${method} ${route}`).toContain("starts, installs, trains, switches and updates no programs on this pod");
    }
    // The GET routes beside them report status and stay open.
    for (const route of ["/api/llm-backend/status", "/api/interpreter-status", "/api/server-update", "/api/addons", "/api/kokoro-addon"]) {
      expect((await fetch(`${pod.url}${route}`, { headers: { cookie } })).status, route).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(pod.proc.exitCode).toBeNull();
    expect(pod.metahumanPid()).toBe(before);
    expect(fs.readFileSync(backendFile, "utf8")).toBe(backendBefore);
  });

  it("refuses MetaHuman OS's profile import, which wrote files by unchecked paths (beside METAHUMAN_ROOT, measured)", async () => {
    let cookie = await doorLogin(pod.url);
    cookie = withCookies(cookie, await fetch(`${pod.url}/api/auth/me`, { headers: { cookie } }));
    const outside = path.join(path.dirname(pod.root), `beside-${path.basename(pod.root)}.txt`);
    const accounts = path.join(pod.root, "users", "ada", "account.json");
    const accountBefore = fs.readFileSync(accounts, "utf8");
    const response = await post(`${pod.url}/api/profile-sync/import`, {
      files: [
        { path: `../../../${path.basename(outside)}`, content: "written through the import" },
        { path: "../../users/ada/account.json", content: "{}" },
      ],
    }, cookie);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("Profile import is closed on this pod");
    expect(fs.existsSync(outside)).toBe(false);
    expect(fs.readFileSync(accounts, "utf8")).toBe(accountBefore);
  });

  it("ends the door's session when the person logs out through MetaHuman OS's own POST /api/auth/logout", async () => {
    let cookie = await doorLogin(pod.url);
    const page = await fetch(`${pod.url}/`, { headers: { cookie, accept: "text/html" } });
    expect(page.status).toBe(200);
    cookie = withCookies(cookie, page);
    expect((await me(pod.url, cookie)).response.status).toBe(200);
    const logout = await post(`${pod.url}/api/auth/logout`, {}, cookie);
    expect(logout.status).toBe(200);
    // The answer clears the door's cookie in the browser...
    expect(logout.headers.getSetCookie().some((c) => /^door_session=;/.test(c) || /^__Host-door_session=;/.test(c))).toBe(true);
    // ...and the session itself is gone: the old cookie, sent again as a stolen copy would be, gets nothing.
    const after = await me(pod.url, cookie);
    expect(after.response.status).toBe(401);
    const pageAfter = await fetch(`${pod.url}/`, { headers: { cookie, accept: "text/html" }, redirect: "manual" });
    expect(pageAfter.status).toBe(302);
    expect(pageAfter.headers.get("location")).toMatch(/^\/door\/login/);
    // A new login works again.
    expect((await me(pod.url, await doorLogin(pod.url))).body?.user?.username).toBe("ada");
  });
});

describe("the pod refuses to start", () => {
  let emu: RunningEmulator;
  let tmp: string;

  beforeAll(async () => {
    emu = await startEmulator({ executor: "in-process" });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mh-refuse-"));
  });
  afterAll(async () => {
    await emu?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("when a file of MetaHuman OS's etc/ is not valid JSON: names it, leaves the person's files as they were, and never starts MetaHuman OS", async () => {
    const root = path.join(tmp, "broken-etc");
    fs.mkdirSync(path.join(root, "etc"), { recursive: true });
    const broken = '{ "lanes": { "local-llm": { "maxConcurrent": 1, }\n';
    fs.writeFileSync(path.join(root, "etc", "queue.json"), broken);
    const backend = '{"activeBackend": "ollama", "mine": 1}\n';
    fs.writeFileSync(path.join(root, "etc", "llm-backend.json"), backend);
    const { code, output } = await runPodUntilExit(emu, root);
    expect(code).toBe(1);
    expect(output).toMatch(/refuses to start: etc\/queue\.json: is not valid JSON/);
    expect(output).not.toContain("[metahuman-os]");
    expect(output).not.toContain("listening on");
    expect(fs.readFileSync(path.join(root, "etc", "queue.json"), "utf8")).toBe(broken);
    expect(fs.readFileSync(path.join(root, "etc", "llm-backend.json"), "utf8")).toBe(backend);
  }, 90_000);

  it("when METAHUMAN_ROOT does not exist: names it, and creates nothing", async () => {
    const root = path.join(tmp, "not-mounted", "metahuman");
    const { code, output } = await runPodUntilExit(emu, root);
    expect(code).toBe(1);
    expect(output).toContain(`refuses to start: METAHUMAN_ROOT ${JSON.stringify(root)} does not exist`);
    expect(output).not.toContain("[metahuman-os]");
    expect(fs.existsSync(path.join(tmp, "not-mounted"))).toBe(false);
  }, 90_000);
});
