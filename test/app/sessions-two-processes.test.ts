// Finding M3 of issue 18: the account file's lock held within one process only, so logouts sent at once
// to two server processes on one volume were lost (24 logouts left 12, 10 and 7 sessions valid). Here two
// real server processes (the image's command) share one volume, and every logout and password change holds.
import * as fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { PASSWORD, TEST_SECRET, login, tempRoot } from "./helpers";
import { startServer, type ServerChild } from "./server-child";

const servers: ServerChild[] = [];
const roots: string[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    if (server.proc.exitCode === null) {
      server.proc.kill("SIGKILL");
      await server.exited;
    }
  }
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

async function twoServersOnOneVolume(users: string[]): Promise<{ root: string; urls: [string, string] }> {
  const root = tempRoot();
  roots.push(root);
  const paths = MetaHumanPaths.open(root);
  for (const user of users) await setPassword(paths, user, PASSWORD);
  const env = {
    LLM_PROVIDER: "mock",
    METAHUMAN_ROOT: root,
    SESSION_SECRET: TEST_SECRET,
    HOST: "127.0.0.1",
    PORT: "0",
    NODE_ENV: "test",
    LOGIN_RATE_LIMIT_PER_MINUTE: "1000",
    LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES: "1000",
  };
  const a = startServer(env);
  const b = startServer(env);
  servers.push(a, b);
  return { root, urls: [await a.url(), await b.url()] };
}

async function sessionStatus(url: string, cookie: string): Promise<number> {
  return (await fetch(`${url}/api/session`, { headers: { cookie } })).status;
}

async function logIn(url: string, username = "ada"): Promise<string> {
  const { response, cookie } = await login(url, username);
  expect(response.status).toBe(200);
  return cookie!;
}

describe("sessions across two server processes on one volume", () => {
  it("48 logouts sent at once, half to each process, all end their sessions", { timeout: 60_000 }, async () => {
    const { root, urls } = await twoServersOnOneVolume(["ada"]);
    const cookies: string[] = [];
    for (let i = 0; i < 48; i++) cookies.push(await logIn(urls[i % 2]!));
    // Every session works on both processes before the logouts.
    for (const [i, cookie] of cookies.entries()) expect(await sessionStatus(urls[(i + 1) % 2]!, cookie)).toBe(200);

    const logouts = await Promise.all(
      cookies.map((cookie, i) => fetch(`${urls[i % 2]!}/api/logout`, { method: "POST", headers: { cookie } }).then((r) => r.status)),
    );
    expect(logouts).toEqual(Array(48).fill(200));

    const stillValid: number[] = [];
    for (const [i, cookie] of cookies.entries()) {
      for (const url of urls) if ((await sessionStatus(url, cookie)) !== 401) stillValid.push(i);
    }
    expect(stillValid, "sessions that survived their logout").toEqual([]);
    const account = JSON.parse(fs.readFileSync(`${root}/users/ada/account.json`, "utf8")) as { revokedSessions: unknown[] };
    expect(account.revokedSessions).toHaveLength(48);
    // No lock is left behind on the volume.
    expect(fs.readdirSync(`${root}/users`).filter((name) => name.endsWith(".lock"))).toEqual([]);
  });

  it("a password change from a third process while both servers write logouts: the change is never overwritten", { timeout: 60_000 }, async () => {
    const { root, urls } = await twoServersOnOneVolume(["ada"]);
    const paths = MetaHumanPaths.open(root);
    const cookies: string[] = [];
    for (let i = 0; i < 10; i++) cookies.push(await logIn(urls[i % 2]!));
    for (let round = 0; round < 5; round++) {
      const newPassword = `a brand new passphrase ${round}`;
      // `npm run add-user` (a third process, here the test's) sets the password while both servers keep
      // rewriting the same account file with logouts; a logout that read the file before the change must
      // not write the old password hash back.
      let changed = false;
      const change = setPassword(paths, "ada", newPassword).finally(() => (changed = true));
      while (!changed) {
        await Promise.all(cookies.map((cookie, i) => fetch(`${urls[i % 2]!}/api/logout`, { method: "POST", headers: { cookie } })));
      }
      await change;
      expect((await login(urls[round % 2]!, "ada", newPassword)).response.status, `round ${round}: the new password`).toBe(200);
      for (const cookie of cookies) for (const url of urls) expect(await sessionStatus(url, cookie)).toBe(401);
      cookies.splice(0, cookies.length);
      for (let i = 0; i < 10; i++) cookies.push((await login(urls[i % 2]!, "ada", newPassword)).cookie!);
    }
  });
});
