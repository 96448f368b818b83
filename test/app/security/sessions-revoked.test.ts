// Finding 6 of issue 11: a copied cookie kept working after logout, after a password change and
// after the user's folder was deleted (and chatting recreated the folder). Finding 11: a signed
// token with a username such as `../x` gave a 500.
import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deleteUser, setPassword } from "../../../src/app/server/auth/accounts";
import { PASSWORD, TEST_SECRET, chat, login, startApp, type Running } from "../helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A token signed with the deployment's secret, built by hand (what a leaked SESSION_SECRET, or a bug, would allow). */
function signedToken(payload: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${createHmac("sha256", TEST_SECRET).update(body).digest("base64url")}`;
}

const sessionStatus = async (url: string, cookie: string) => (await fetch(`${url}/api/session`, { headers: { cookie } })).status;
const post = (url: string, route: string, cookie: string) =>
  fetch(`${url}${route}`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: "{}" });

describe("sessions can be revoked", () => {
  it("a logout ends that session for every copy of its cookie, and only that session", async () => {
    running = await startApp();
    const laptop = (await login(running.url)).cookie!;
    const phone = (await login(running.url)).cookie!;
    const stolenCopy = laptop;
    expect(await sessionStatus(running.url, stolenCopy)).toBe(200);
    const out = await post(running.url, "/api/logout", laptop);
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^door_session=;.*Max-Age=0/);
    expect(await sessionStatus(running.url, stolenCopy)).toBe(401);
    expect((await chat(running.url, stolenCopy, "still me?")).status).toBe(401);
    expect(await sessionStatus(running.url, phone)).toBe(200);
  });

  it("logout-everywhere ends every session of the user, not other users'", async () => {
    running = await startApp({ users: ["ada", "bob"] });
    const a1 = (await login(running.url)).cookie!;
    const a2 = (await login(running.url)).cookie!;
    const b = (await login(running.url, "bob")).cookie!;
    expect((await post(running.url, "/api/logout-everywhere", a1)).status).toBe(200);
    expect(await sessionStatus(running.url, a1)).toBe(401);
    expect(await sessionStatus(running.url, a2)).toBe(401);
    expect(await sessionStatus(running.url, b)).toBe(200);
    expect((await login(running.url)).response.status).toBe(200); // a new login works
    expect((await post(running.url, "/api/logout-everywhere", "door_session=junk")).status).toBe(401);
  });

  it("a password change ends every existing session", async () => {
    running = await startApp();
    const before = (await login(running.url)).cookie!;
    await setPassword(running.paths, "ada", "a brand new password");
    expect(await sessionStatus(running.url, before)).toBe(401);
    expect((await login(running.url, "ada", PASSWORD)).response.status).toBe(401);
    expect((await login(running.url, "ada", "a brand new password")).response.status).toBe(200);
  });

  it("a deleted user's cookie is refused and chatting does not recreate their folder; re-creating the name does not revive it", async () => {
    running = await startApp();
    const cookie = (await login(running.url)).cookie!;
    expect(await deleteUser(running.paths, "ada")).toBe(true);
    const userDir = path.join(running.root, "users", "ada");
    expect(fs.existsSync(userDir)).toBe(false);
    expect(await sessionStatus(running.url, cookie)).toBe(401);
    expect((await chat(running.url, cookie, "hello?")).status).toBe(401);
    expect(fs.existsSync(userDir)).toBe(false);
    // A new person gets the name: the old cookie is still not theirs.
    await setPassword(running.paths, "ada", "someone else's password");
    expect(await sessionStatus(running.url, cookie)).toBe(401);
  });

  it("a session whose account file was removed by hand is refused", async () => {
    running = await startApp();
    const cookie = (await login(running.url)).cookie!;
    fs.rmSync(path.join(running.root, "users", "ada", "account.json"));
    expect(await sessionStatus(running.url, cookie)).toBe(401);
  });

  it("a signed token naming `../x` or another impossible user is a 401, never a 500", async () => {
    running = await startApp();
    const now = Math.floor(Date.now() / 1000);
    for (const name of ["../x", "../../etc", "..", "a/b", "ada/../bob", "%2e%2e"]) {
      const cookie = `door_session=${signedToken({ u: name, v: 1, sid: "abcdefgh12", iat: now, exp: now + 3600 })}`;
      expect(await sessionStatus(running.url, cookie), name).toBe(401);
      expect((await chat(running.url, cookie, "hi")).status, name).toBe(401);
    }
  });
});
