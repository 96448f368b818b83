// Findings 4 and 5 of issue 11: JSONL appends on a full disk, and a volume that vanishes or is
// replaced while the server runs. Real files; the full disk is a real file-size limit (ulimit -f),
// which makes the kernel do what a full disk does: a short write, then an error.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { MetaHumanPaths, VolumeError, appendAudit, appendEpisodic, writeJsonAtomic } from "../../../src/app/paths";
import { chat, login, startApp } from "../helpers";

const roots: string[] = [];
function newRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-volume-"));
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

const REPO = path.resolve(__dirname, "../../..");

describe("JSONL appends on a full disk (finding 4)", () => {
  it("keep each record whole or absent, never glue the next one onto a fragment, and tell the caller", async () => {
    const root = newRoot();
    const file = path.join(root, "logs", "audit", "2026-01-01.jsonl");
    // In a child limited to 20 KiB per file: a small record, a 16 kB one that crosses the
    // limit (the kernel writes part of it, then refuses), then a small one again.
    const script = `
      const { appendJsonl } = require(${JSON.stringify(path.join(REPO, "src/app/paths.ts"))});
      (async () => {
        const results = [];
        for (const [i, size] of [[1, 100], [2, 16000], [3, 100], [4, 16000], [5, 50]]) {
          try { await appendJsonl(process.argv[1], { i, pad: "x".repeat(size) }); results.push([i, "ok"]); }
          catch (err) { results.push([i, err.name + ":" + err.code]); }
        }
        process.stdout.write(JSON.stringify(results));
      })();
    `;
    const { stdout } = await promisify(execFile)("bash", ["-c", 'ulimit -f 20; exec "$0" --import tsx -e "$1" "$2"', process.execPath, script, file], { cwd: REPO });
    const results = JSON.parse(stdout) as [number, string][];
    // 1: 100 B, 2: +16 kB = 16.2 kB fits; 3 fits; 4 crosses 20 KiB and fails; 5 fits again.
    expect(results).toEqual([[1, "ok"], [2, "ok"], [3, "ok"], [4, "VolumeError:EFBIG"], [5, "ok"]]);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    expect(lines.at(-1)).toBe(""); // ends with a newline
    const records = lines.slice(0, -1).map((l) => JSON.parse(l) as { i: number });
    expect(records.map((r) => r.i)).toEqual([1, 2, 3, 5]);
  });

  it("start a record on a new line when a fragment without a newline is already there", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    const file = path.join(root, "logs", "audit", "2026-01-02.jsonl");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"i":1}\n{"i":2,"pad":"xxxx'); // what a crash mid-write leaves
    await appendAudit(paths.audit, { timestamp: "2026-01-02T00:00:00.000Z", i: 3 });
    const lines = fs.readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!)).toMatchObject({ i: 3 });
  });
});

describe("a volume that vanishes or is replaced while the server runs (finding 5)", () => {
  const at = "2026-05-06T07:08:09.000Z";

  it("is reported, and the root is not recreated on the container's disk", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    const tree = await paths.ensureUser("ada");
    fs.rmSync(root, { recursive: true, force: true }); // the mount went away
    expect(await paths.checkVolume()).toMatch(/is gone/);
    await expect(paths.ensureUser("ada")).rejects.toBeInstanceOf(VolumeError);
    await expect(appendEpisodic(tree, { timestamp: at, message: "lost?" })).rejects.toThrow(/gone|no longer mounted/);
    await expect(appendAudit(paths.audit, { timestamp: at, event: "chat" })).rejects.toBeInstanceOf(VolumeError);
    await expect(writeJsonAtomic(tree.account, { x: 1 })).rejects.toBeInstanceOf(VolumeError);
    expect(fs.existsSync(root)).toBe(false);
  });

  it("is reported when an empty folder now stands where the root was (another device or inode), and nothing is written into it", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    const tree = await paths.ensureUser("ada");
    // The volume's folder moves away (as when it is unmounted) and an empty folder stands at its path,
    // like the bare mount point on the container's disk.
    fs.renameSync(root, `${root}.old`);
    roots.push(`${root}.old`);
    fs.mkdirSync(root);
    fs.mkdirSync(path.join(root, "users"));
    expect(await paths.checkVolume()).toMatch(/no longer the folder the server started with/);
    await expect(appendEpisodic(tree, { timestamp: at, message: "lost?" })).rejects.toBeInstanceOf(VolumeError);
    await expect(paths.ensureUser("bob")).rejects.toBeInstanceOf(VolumeError);
    expect(fs.readdirSync(root)).toEqual(["users"]);
    expect(fs.readdirSync(path.join(root, "users"))).toEqual([]);
  });

  it("never recreates users/ after start", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    fs.rmSync(path.join(root, "users"), { recursive: true });
    await expect(paths.ensureUser("ada")).rejects.toThrow(/users is gone/);
    expect(fs.existsSync(path.join(root, "users"))).toBe(false);
    expect(await paths.checkWritable()).toBeDefined();
  });

  // Never skipped: a real read-only tmpfs where this machine lets us mount one (root with
  // CAP_SYS_ADMIN, as in CI); otherwise a folder whose mode refuses writes, written to by a
  // process that mode bits apply to (this one, or a child dropped to uid 65534 with setpriv).
  it("reports a volume that refuses writes (read-only, or permission denied) as such", async () => {
    const root = newRoot();
    const run = promisify(execFile);
    const mounted = os.platform() === "linux" && process.getuid?.() === 0 && (await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", root]).then(() => true, () => false));
    if (mounted) {
      try {
        const paths = MetaHumanPaths.open(root);
        const tree = await paths.ensureUser("ada");
        await run("mount", ["-o", "remount,ro", root]);
        const failure = await appendEpisodic(tree, { timestamp: at, message: "hi" }).catch((err: unknown) => err);
        expect(failure).toBeInstanceOf(VolumeError);
        expect(failure).toMatchObject({ code: "EROFS", message: expect.stringMatching(/read-only/) });
        expect(await paths.checkWritable()).toBe("EROFS");
      } finally {
        await run("umount", [root]).catch(() => undefined);
      }
      return;
    }
    const script = `
      const { MetaHumanPaths, appendEpisodic } = require(${JSON.stringify(path.join(REPO, "src/app/paths.ts"))});
      const fs = require("node:fs");
      (async () => {
        const paths = MetaHumanPaths.open(process.argv[1]);
        const tree = await paths.ensureUser("ada");
        fs.chmodSync(tree.memory.episodic, 0o500);
        const failure = await appendEpisodic(tree, { timestamp: ${JSON.stringify(at)}, message: "hi" }).then(() => undefined, (err) => err);
        process.stdout.write(JSON.stringify({ name: failure && failure.name, code: failure && failure.code, message: failure && failure.message }));
      })();
    `;
    const asRoot = process.getuid?.() === 0;
    if (asRoot) fs.chownSync(root, 65534, 65534);
    const argv = [...(asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : []), process.execPath, "--import", "tsx", "-e", script, root];
    const { stdout } = await run(argv[0]!, argv.slice(1), { cwd: REPO });
    expect(JSON.parse(stdout)).toMatchObject({ name: "VolumeError", code: "EACCES", message: expect.stringMatching(/refuses writes/) });
    fs.chmodSync(path.join(root, "users", "ada", "memory", "episodic"), 0o700);
  });
});

describe("the web server when the volume goes away (finding 5, over HTTP)", () => {
  it("answers a chat with 503 in words and writes nothing off the volume", async () => {
    const running = await startApp();
    try {
      const { cookie } = await login(running.url);
      fs.renameSync(running.root, `${running.root}.gone`); // unmounted: the data is elsewhere now
      roots.push(`${running.root}.gone`);
      const response = await chat(running.url, cookie, "is anyone there?");
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: "Your data volume is not available right now. Please try again later." });
      expect(fs.existsSync(running.root)).toBe(false); // nothing recreated on the container disk
      expect((await fetch(`${running.url}/api/health`)).status).toBe(503);

      fs.mkdirSync(path.join(running.root, "users"), { recursive: true }); // an empty folder where the volume was
      expect((await chat(running.url, cookie, "and now?")).status).toBe(503);
      expect(fs.readdirSync(path.join(running.root, "users"))).toEqual([]);
    } finally {
      fs.mkdirSync(running.root, { recursive: true }); // so close() has something to remove
      await running.close();
    }
  });
});
