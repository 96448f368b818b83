// Issue 18, the volume tool's findings, each against the real `npm run volume` entry (or, where a moment between two
// requests must be staged, the real VolumeClient) and the emulator's S3 API on loopback. Hostile objects are written
// straight into the emulator's volume folder (its store: a key is the path under the folder), as a pod writing to
// /runpod-volume would make them.
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupLayout, writeBackupFolder, verifyBackup } from "../../src/volume/backup";
import { shown } from "../../src/volume/names";
import { VolumeClient } from "../../src/volume/volume-client";
import { S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, treeHashes, volumeEnv, writeMetaHumanTree } from "./helpers";

let emu: S3Emulator;
let work: string;

beforeAll(async () => {
  emu = await startS3Emulator();
  work = mkdtempSync(path.join(tmpdir(), "volume-hostile-"));
});
afterAll(async () => {
  await emu?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Writes `rel` (a key under metahuman/) straight into the volume's folder. */
function onVolume(volumeId: string, rel: string, body: string | Buffer, mtime?: Date): string {
  const file = path.join(emu.folderOf(volumeId), "metahuman", ...rel.split("/"));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
  if (mtime) utimesSync(file, mtime, mtime);
  return file;
}

async function volumeWithTree(name: string): Promise<{ volumeId: string; env: NodeJS.ProcessEnv; mine: string }> {
  const volumeId = await emu.createVolume();
  const env = volumeEnv(emu, volumeId);
  const mine = path.join(work, name);
  writeMetaHumanTree(mine);
  const pushed = await runVolume(["push-data", mine], env);
  expect(pushed.code, pushed.err).toBe(0);
  return { volumeId, env, mine };
}

const onlyBackup = (dir: string) => path.join(dir, readdirSync(dir)[0]!);

describe("M1: a backup holds any key and restores", () => {
  it("keys with a newline, a backslash and our own temp-file pattern are backed up, verified and restored byte for byte", async () => {
    const { volumeId, env } = await volumeWithTree("m1");
    onVolume(volumeId, "nl\nline", "newline");
    onVolume(volumeId, ".x.0123456789ab.part", "looks like ours");
    onVolume(volumeId, "back\\slash", "backslash");
    const before = treeHashes(path.join(emu.folderOf(volumeId), "metahuman"));
    const backups = path.join(work, "m1-backups");
    const taken = await runVolume(["backup", backups], env);
    expect(taken.code, taken.err).toBe(0);
    expect(taken.out).toContain("backup complete and verified: ");
    expect(taken.out).toContain("(10 file(s)");
    const dir = onlyBackup(backups);
    const verified = await runVolume(["verify-backup", dir], {});
    expect([verified.code, verified.out]).toEqual([0, expect.stringContaining("OK: 10 file(s) match the manifest")]);
    rmSync(path.join(emu.folderOf(volumeId), "metahuman"), { recursive: true });
    const restored = await runVolume(["restore", dir], env);
    expect(restored.code, restored.err).toBe(0);
    expect(treeHashes(path.join(emu.folderOf(volumeId), "metahuman"))).toEqual(before);
  });

  it("a key a folder cannot hold (a file where another key needs a folder) goes to odd/<hash>, named exactly in MANIFEST.json", () => {
    const layout = backupLayout(["metahuman/a", "metahuman/a/b", `metahuman/${"x".repeat(256)}`, "metahuman/ok"]);
    expect(layout.get("metahuman/a")).toMatch(/^odd\/[0-9a-f]{64}$/);
    expect(layout.get("metahuman/a/b")).toBe("files/metahuman/a/b");
    expect(layout.get(`metahuman/${"x".repeat(256)}`)).toMatch(/^odd\/[0-9a-f]{64}$/);
    expect(layout.get("metahuman/ok")).toBe("files/metahuman/ok");
  });

  it("a key that cannot be read is reported by name and every other key is backed up", async () => {
    const { volumeId } = await volumeWithTree("m1-gone");
    const client = new VolumeClient({ volumeId, dataCenter: "EU-RO-1", endpoint: emu.s3Url, credentials: S3_KEY });
    try {
      const objects = await client.list("");
      const gone = { key: "metahuman/deleted-meanwhile.json", size: 3, lastModified: new Date(), etag: "" };
      const folder = path.join(work, "m1-gone-backup");
      const lines: string[] = [];
      const info = await writeBackupFolder(client, [...objects, gone], folder, new Date(), undefined, (l) => lines.push(l));
      expect(info.files).toBe(objects.length);
      expect(info.notBackedUp?.map((n) => n.key)).toEqual(["metahuman/deleted-meanwhile.json"]);
      expect(lines.join("\n")).toContain("FAILED    metahuman/deleted-meanwhile.json");
      expect((await verifyBackup(folder)).problems).toEqual([]);
    } finally {
      client.close();
    }
  });
});

describe("M5 and L5: links", () => {
  it("push-data never follows a link out of the tree, lists each one skipped (dry run too), and loops end", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "m5");
    writeMetaHumanTree(mine);
    const secret = path.join(work, "m5-outside-secret.txt");
    writeFileSync(secret, "not yours");
    symlinkSync(secret, path.join(mine, "persona", "passwd-link"));
    symlinkSync("..", path.join(mine, "persona", "up"));
    symlinkSync("../..", path.join(mine, "memory", "semantic", "up2"));
    symlinkSync("core.json", path.join(mine, "persona", "core-link.json"));
    const dry = await runVolume(["push-data", mine, "--dry-run"], env);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/skip\s+persona\/passwd-link {2}\(a link to .*outside/);
    expect(dry.out).toMatch(/skip\s+persona\/up {2}\(a link to the folder \.\./);
    expect(dry.out).toMatch(/skip\s+memory\/semantic\/up2 /);
    expect(dry.out).toContain("dry run: 8 file(s)");
    const push = await runVolume(["push-data", mine], env);
    expect(push.code, push.err).toBe(0);
    expect(push.out).toMatch(/skip\s+persona\/passwd-link/);
    const landed = Object.keys(treeHashes(path.join(emu.folderOf(volumeId), "metahuman")));
    expect(landed).toHaveLength(8);
    expect(landed).not.toContain("persona/passwd-link");
    expect(landed).toContain("persona/core-link.json");
  });

  it("verify-backup and restore refuse a backup holding a link, naming it", async () => {
    const { volumeId, env } = await volumeWithTree("m5-backup");
    const backups = path.join(work, "m5-backups");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = onlyBackup(backups);
    const outside = path.join(work, "m5-secret");
    writeFileSync(outside, "secret");
    const core = path.join(dir, "files", "metahuman", "persona", "core.json");
    rmSync(core);
    symlinkSync(outside, core);
    const verified = await runVolume(["verify-backup", dir], {});
    expect(verified.code).toBe(1);
    expect(verified.out).toContain("not a plain file: files/metahuman/persona/core.json (a symbolic link");
    const restored = await runVolume(["restore", dir, "--force"], env);
    expect(restored.code).toBe(1);
    expect(readFileSync(path.join(emu.folderOf(volumeId), "metahuman", "persona", "core.json"), "utf8")).not.toBe("secret");
  });

  it("pull-data never writes through a link already in the target, names it, and pulls the rest", async () => {
    const { env } = await volumeWithTree("l5-src");
    const target = path.join(work, "l5-target");
    const sibling = path.join(work, "l5-sibling");
    mkdirSync(target, { recursive: true });
    mkdirSync(sibling, { recursive: true });
    symlinkSync("../l5-sibling", path.join(target, "persona"));
    const pull = await runVolume(["pull-data", target], env);
    expect(pull.code).toBe(1);
    expect(pull.out).toMatch(/persona\/core\.json {2}\(.*persona, is a symbolic link here: not written through it/);
    expect(pull.err).toContain("3 file(s) could not be written here");
    expect(readdirSync(sibling)).toEqual([]);
    expect(existsSync(path.join(target, "memory", "semantic", "facts.json"))).toBe(true);
  });
});

describe("L1/L4: clocks the tool does not own decide nothing", () => {
  it("restore refuses a backup.json whose takenAt is 2999-01-01 or not a date, by name, and writes nothing", async () => {
    const { volumeId, env } = await volumeWithTree("l1");
    const backups = path.join(work, "l1-backups");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = onlyBackup(backups);
    writeFileSync(path.join(emu.folderOf(volumeId), "metahuman", "persona", "core.json"), '{"name":"changed after the backup"}');
    const info = JSON.parse(readFileSync(path.join(dir, "backup.json"), "utf8")) as Record<string, unknown>;
    for (const takenAt of ["2999-01-01T00:00:00.000Z", "not a date"]) {
      writeFileSync(path.join(dir, "backup.json"), JSON.stringify({ ...info, takenAt }));
      const restored = await runVolume(["restore", dir], env);
      expect(restored.code).toBe(1);
      expect(restored.err).toContain(`backup.json: takenAt is ${JSON.stringify(takenAt)}: not a time this backup could hold`);
      expect(readFileSync(path.join(emu.folderOf(volumeId), "metahuman", "persona", "core.json"), "utf8")).toBe('{"name":"changed after the backup"}');
    }
  });

  it("restore keeps a file the volume changed after the backup even with a takenAt in the future, by the volume's own times", async () => {
    const { volumeId, env } = await volumeWithTree("l1b");
    const backups = path.join(work, "l1b-backups");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = onlyBackup(backups);
    const soon = new Date(Date.now() + 3_600_000);
    onVolume(volumeId, "persona/core.json", '{"name":"newer on the volume"}', new Date(Date.now() + 60_000));
    const info = JSON.parse(readFileSync(path.join(dir, "backup.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(path.join(dir, "backup.json"), JSON.stringify({ ...info, takenAt: soon.toISOString() }));
    const restored = await runVolume(["restore", dir], env);
    expect(restored.code).toBe(1);
    expect(restored.out).toMatch(/KEEP\s+metahuman\/persona\/core\.json {2}\(changed on the volume since the backup/);
    expect(readFileSync(path.join(emu.folderOf(volumeId), "metahuman", "persona", "core.json"), "utf8")).toBe('{"name":"newer on the volume"}');
  });

  it("pull-data does not believe a volume time in the far future: a changed local file is kept, the date named", async () => {
    const { volumeId, env, mine } = await volumeWithTree("l4");
    // 2999 is past what ext4 stores (2446): the emulator's volume holds 2400 as the far future.
    onVolume(volumeId, "persona/core.json", '{"name":"from 2400"}', new Date("2400-01-01T00:00:00Z"));
    writeFileSync(path.join(mine, "persona", "core.json"), '{"name":"edited here just now"}');
    const pull = await runVolume(["pull-data", mine], env);
    expect(pull.code).toBe(1);
    expect(pull.out).toMatch(/KEEP\s+persona\/core\.json {2}\(its time on the volume \(2400-01-01T00:00:00Z\) is not a believable one/);
    expect(readFileSync(path.join(mine, "persona", "core.json"), "utf8")).toBe('{"name":"edited here just now"}');
  });
});

describe("L2: local failures named as local, one bad key does not stop a pull", () => {
  it("a folder where a file goes (EISDIR-like) and a file where a folder goes (ENOTDIR) are named; the other files land", async () => {
    const { volumeId, env } = await volumeWithTree("l2");
    onVolume(volumeId, `${"n".repeat(240)}.json`, "a long name");
    const target = path.join(work, "l2-target");
    mkdirSync(path.join(target, "persona", "core.json"), { recursive: true });
    writeFileSync(path.join(target, "memory"), "a file where a folder must be");
    const pull = await runVolume(["pull-data", target], env);
    expect(pull.code).toBe(1);
    expect(pull.out).not.toContain("connection");
    expect(pull.out).toMatch(/FAILED\s+persona\/core\.json {2}\(writing metahuman\/persona\/core\.json to .* failed here, on this machine: E(ISDIR|EXIST|NOTDIR)/);
    expect(pull.out).toMatch(/FAILED\s+memory\/semantic\/facts\.json {2}\(.*failed here, on this machine: E(NOTDIR|EXIST)/);
    expect(pull.err).toContain("file(s) could not be written here");
    expect(readFileSync(path.join(target, `${"n".repeat(240)}.json`), "utf8")).toBe("a long name");
    expect(readFileSync(path.join(target, "users", "bob", "persona", "core.json"), "utf8")).toContain("Bob");
  });

  it("a damaged backup.json is named as such, not as a connection failure", async () => {
    const { env } = await volumeWithTree("l2-json");
    const backups = path.join(work, "l2-json-backups");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = onlyBackup(backups);
    writeFileSync(path.join(dir, "backup.json"), "{ not json");
    const restored = await runVolume(["restore", dir], env);
    expect(restored.code).toBe(1);
    expect(restored.err).toContain("backup.json of backup");
    expect(restored.err).toContain("is not valid JSON");
    expect(restored.err).not.toContain("connection");
  });

  it("a clock-skew 403 (RequestTimeTooSkewed, S3's own answer) says the clock is off, not that the key was refused", async () => {
    const server: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(403, { "content-type": "application/xml" });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const run = await runVolume(["ls"], { ...volumeEnv(emu, "vol123"), RUNPOD_S3_ENDPOINT_URL: `http://127.0.0.1:${port}/s3` });
      expect(run.code).toBe(1);
      expect(run.err).toContain("this machine's clock is off (RequestTimeTooSkewed");
      expect(run.err).not.toContain("key was refused (");
    } finally {
      server.close();
    }
  });
});

describe("L3: a download stops at its listed size", () => {
  it("an object that grew after it was listed is cut off at the listed size, nothing written", async () => {
    const { volumeId } = await volumeWithTree("l3");
    const client = new VolumeClient({ volumeId, dataCenter: "EU-RO-1", endpoint: emu.s3Url, credentials: S3_KEY });
    try {
      const [listed] = (await client.list("metahuman/persona/core.json"));
      onVolume(volumeId, "persona/core.json", Buffer.alloc(4 * 1024 * 1024, 1));
      let received = 0;
      const file = path.join(work, "l3-out", "core.json");
      await expect(client.getFile(listed!, file, (n) => (received += n))).rejects.toThrow(/ran past its listed size of \d+ bytes/);
      expect(received).toBeLessThanOrEqual(listed!.size);
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(path.dirname(file))).toEqual([]);
    } finally {
      client.close();
    }
  });
});

describe("L6: names print escaped", () => {
  it("ls and the transfer lists escape terminal escapes, bidi controls and line breaks in key names", async () => {
    const { volumeId, env } = await volumeWithTree("l6");
    onVolume(volumeId, "esc\u001b[31mred", "x");
    onVolume(volumeId, "bidi\u202etxt.exe", "y");
    onVolume(volumeId, "two\nlines", "z");
    const listed = await runVolume(["ls", "metahuman/"], env);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).not.toMatch(/[\u001b\u202e]/);
    expect(listed.out).toContain('"metahuman/esc\\u001b[31mred"');
    expect(listed.out).toContain('"metahuman/bidi\\u202etxt.exe"');
    expect(listed.out).toContain('"metahuman/two\\u000alines"');
    const pull = await runVolume(["pull-data", path.join(work, "l6-pull"), "--dry-run"], env);
    expect(pull.out).not.toMatch(/[\u001b\u202e]/);
    expect(shown("plain/name.json")).toBe("plain/name.json");
  });
});
