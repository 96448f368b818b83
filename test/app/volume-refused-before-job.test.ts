// Issue 11, finding 15: a volume that refuses writes (or is gone) is refused before a job is submitted,
// so the model never runs (and is never billed) for an answer that could not be saved. The real server
// process against the emulator's job API; the volume's tree is made read-only under it (mode bits,
// with the server running as an unprivileged user when the test runs as root, as in the image).
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MetaHumanPaths } from "../../src/app/paths";
import { setPassword } from "../../src/app/server/auth/accounts";
import { listJobs, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";
import { PASSWORD, chat, login, readSse, tempRoot } from "./helpers";
import { runpodServerEnv, startServer, type ServerChild } from "./server-child";

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let emu: RunningEmulator | undefined;
let server: ServerChild | undefined;
const cleanup: string[] = [];
afterEach(async () => {
  if (server && server.proc.exitCode === null) server.proc.kill("SIGKILL");
  server = undefined;
  await emu?.close();
  emu = undefined;
  for (const dir of cleanup.splice(0)) {
    walk(dir, (p) => fs.chmodSync(p, 0o700));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function walk(dir: string, visit: (p: string) => void): void {
  if (!fs.existsSync(dir)) return;
  visit(dir);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, visit);
    else visit(p);
  }
}

const jobs = (e: RunningEmulator): Promise<unknown[]> => listJobs(e);

async function serverOnVolume(): Promise<{ url: string; cookie: string | undefined; root: string }> {
  emu = await startEmulator();
  const root = tempRoot();
  cleanup.push(root);
  await setPassword(MetaHumanPaths.open(root), "ada", PASSWORD);
  if (asRoot) walk(root, (p) => fs.chownSync(p, NOBODY, NOBODY));
  server = startServer(
    runpodServerEnv(emu, root),
    asRoot ? { uid: NOBODY } : {},
  );
  const url = await server.url();
  const { cookie } = await login(url);
  // A chat on a good volume reaches the emulator (so what follows can tell a refusal from a broken setup).
  const first = await readSse(await chat(url, cookie, "first"));
  expect(first.at(-1)?.event).toBe("done");
  expect(await jobs(emu)).toHaveLength(1);
  return { url, cookie, root };
}

describe("a volume that cannot take the chat's record", () => {
  it("read-only: 503 in words, and no job is submitted", async () => {
    const { url, cookie, root } = await serverOnVolume();
    walk(root, (p) => fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o555 : 0o444));
    const response = await chat(url, cookie, "second");
    expect(response.status).toBe(503);
    expect((await response.json()).error).toBe(
      "Your data volume cannot be written to right now, so your message was not sent to the model (nothing was run or billed). Please try again later.",
    );
    expect(await jobs(emu!)).toHaveLength(1);
  }, 30_000);

  it("missing (unmounted): 503 in words, and no job is submitted", async () => {
    const { url, cookie, root } = await serverOnVolume();
    const away = `${root}-away`;
    fs.renameSync(root, away);
    cleanup.push(away);
    const response = await chat(url, cookie, "second");
    expect(response.status).toBe(503);
    expect((await response.json()).error).toMatch(/data volume is not available/);
    expect(await jobs(emu!)).toHaveLength(1);
    expect(fs.existsSync(root)).toBe(false);
  }, 30_000);
});
