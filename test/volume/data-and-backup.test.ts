// push-data / pull-data of a person's MetaHuman OS tree and backup / verify-backup / restore, through `npm run
// volume`'s entry against the emulator's S3 API: nothing newer is overwritten without --force (and then nothing at
// all is transferred), --dry-run transfers nothing, a backup round trip is byte-identical and leaves the model out.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, treeHashes, volumeEnv, writeFixtureModel, writeMetaHumanTree } from "./helpers";

let emu: S3Emulator;
let work: string;

beforeAll(async () => {
  emu = await startS3Emulator();
  work = mkdtempSync(path.join(tmpdir(), "volume-data-"));
});
afterAll(async () => {
  await emu?.close();
  rmSync(work, { recursive: true, force: true });
});

const onVolume = (volumeId: string, rel: string) => path.join(emu.folderOf(volumeId), "metahuman", ...rel.split("/"));

describe("push-data and pull-data", () => {
  it("push-data puts the tree under metahuman/; pull-data brings it back byte for byte into an empty folder", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-1");
    writeMetaHumanTree(mine);
    const dry = await runVolume(["push-data", mine, "--dry-run"], env);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain("upload    persona/core.json  (new,");
    expect(dry.out).toContain("dry run: 7 file(s)");
    expect(existsSync(emu.folderOf(volumeId))).toBe(false);

    const push = await runVolume(["push-data", mine], env);
    expect(push.code, push.err).toBe(0);
    expect(treeHashes(path.join(emu.folderOf(volumeId), "metahuman"))).toEqual(treeHashes(mine));
    const again = await runVolume(["push-data", mine], env);
    expect(again.out).toContain("uploaded 0 file(s), 0 B");
    expect(again.out).toContain("7 identical");

    const elsewhere = path.join(work, "elsewhere-1");
    const pull = await runVolume(["pull-data", elsewhere], env);
    expect(pull.code, pull.err).toBe(0);
    expect(treeHashes(elsewhere)).toEqual(treeHashes(mine));
  });

  it("push-data of a folder that does not exist names it and what to give (MetaHuman OS's root: etc/ and profiles/); nothing is uploaded", async () => {
    const volumeId = await emu.createVolume();
    const nope = path.join(work, "no-such-root");
    const push = await runVolume(["push-data", nope], volumeEnv(emu, volumeId));
    expect(push.code).toBe(1);
    expect(push.err).toContain(`${nope} does not exist: give the folder of your MetaHuman OS data: its METAHUMAN_ROOT, the one holding etc/ and profiles/`);
    expect(existsSync(emu.folderOf(volumeId))).toBe(false);
  });

  it("pull-data over a newer local file refuses, transfers nothing and lists it; --force overwrites", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-2");
    writeMetaHumanTree(mine);
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    // On the volume, the pod writes a new memory and changes the persona...
    writeFileSync(onVolume(volumeId, "memory/episodic/2026/2026-12-01-pod.json"), '{"text":"from the pod"}');
    writeFileSync(onVolume(volumeId, "persona/core.json"), '{"name":"Ada (pod)"}');
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(onVolume(volumeId, "persona/core.json"), past, past);
    // ...while here the same persona file is edited later.
    writeFileSync(path.join(mine, "persona/core.json"), '{"name":"Ada (laptop)"}');

    const refused = await runVolume(["pull-data", mine], env);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/KEEP\s+persona\/core\.json {2}\(newer here/);
    expect(refused.err).toContain("1 file(s) are newer here than on the volume (listed above): nothing was transferred");
    expect(readFileSync(path.join(mine, "persona/core.json"), "utf8")).toBe('{"name":"Ada (laptop)"}');
    expect(existsSync(path.join(mine, "memory/episodic/2026/2026-12-01-pod.json"))).toBe(false);

    const forced = await runVolume(["pull-data", mine, "--force"], env);
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(path.join(mine, "persona/core.json"), "utf8")).toBe('{"name":"Ada (pod)"}');
    expect(readFileSync(path.join(mine, "memory/episodic/2026/2026-12-01-pod.json"), "utf8")).toBe('{"text":"from the pod"}');
    // A pulled file carries the volume's time, so the next comparison is fair.
    expect(statSync(path.join(mine, "persona/core.json")).mtime.getTime()).toBe(past.getTime());
  });

  it("push-data over a file the volume changed later refuses unless --force; files only on the volume are kept", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-3");
    writeMetaHumanTree(mine);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(path.join(mine, "persona/routines.json"), past, past);
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    writeFileSync(onVolume(volumeId, "persona/routines.json"), '["walk"]');
    writeFileSync(onVolume(volumeId, "only-on-volume.json"), "{}");
    writeFileSync(path.join(mine, "persona/routines.json"), '["old"]');
    utimesSync(path.join(mine, "persona/routines.json"), past, past);

    const refused = await runVolume(["push-data", mine], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("newer on the volume than here");
    expect(readFileSync(onVolume(volumeId, "persona/routines.json"), "utf8")).toBe('["walk"]');
    expect((await runVolume(["push-data", mine, "--force"], env)).code).toBe(0);
    expect(readFileSync(onVolume(volumeId, "persona/routines.json"), "utf8")).toBe('["old"]');
    expect(existsSync(onVolume(volumeId, "only-on-volume.json"))).toBe(true);
  });

  it("a full volume stops push-data in words; what was already there stays whole", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-4");
    writeMetaHumanTree(mine);
    writeFileSync(path.join(mine, "memory/big.bin"), Buffer.alloc(50_000, 7));
    await emu.control("PUT", `/_emulator/s3/volumes/${volumeId}/capacity`, { bytes: 1_000 });
    const run = await runVolume(["push-data", mine], env);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`network volume ${volumeId} is full`);
    const landed = readdirSync(path.join(emu.folderOf(volumeId), "metahuman"), { recursive: true }).map(String);
    expect(landed).not.toContain("memory/big.bin");
    for (const rel of Object.keys(treeHashes(path.join(emu.folderOf(volumeId), "metahuman")))) {
      expect(readFileSync(onVolume(volumeId, rel))).toEqual(readFileSync(path.join(mine, rel)));
    }
  });
});

describe("backup, verify-backup, restore", () => {
  it("a dated backup of everything but the model cache, verified, restores byte-identical onto an emptied volume", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-5");
    writeMetaHumanTree(mine);
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    writeFixtureModel(path.join(work, "model-5"), 2000);
    expect((await runVolume(["push-model", "test-org/tiny", "--from", path.join(work, "model-5")], env)).code).toBe(0);
    const before = treeHashes(path.join(emu.folderOf(volumeId), "metahuman"));

    const backups = path.join(work, "backups");
    const taken = await runVolume(["backup", backups], env);
    expect(taken.code, taken.err).toBe(0);
    const [name] = readdirSync(backups);
    expect(name).toMatch(new RegExp(`^metahuman-backup-${volumeId}-\\d{8}-\\d{6}Z$`));
    const dir = path.join(backups, name!);
    expect(Object.keys(treeHashes(path.join(dir, "files"))).every((k) => k.startsWith("metahuman/"))).toBe(true);
    const manifest = readFileSync(path.join(dir, "MANIFEST.sha256"), "utf8");
    expect(manifest.trim().split("\n")).toHaveLength(7);
    expect(manifest).not.toContain("huggingface-cache");
    const verified = await runVolume(["verify-backup", dir], {});
    expect([verified.code, verified.out]).toEqual([0, expect.stringContaining("OK: 7 file(s) match the manifest")]);

    // The volume loses its MetaHuman tree; the model stays.
    rmSync(path.join(emu.folderOf(volumeId), "metahuman"), { recursive: true });
    const restored = await runVolume(["restore", dir], env);
    expect(restored.code, restored.err).toBe(0);
    expect(treeHashes(path.join(emu.folderOf(volumeId), "metahuman"))).toEqual(before);
  });

  it("a damaged backup fails verify-backup naming the file, and restore refuses it without touching the volume", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-6");
    writeMetaHumanTree(mine);
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    const backups = path.join(work, "backups-6");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = path.join(backups, readdirSync(backups)[0]!);
    writeFileSync(path.join(dir, "files", "metahuman", "persona", "core.json"), '{"name":"tampered"}');
    const verified = await runVolume(["verify-backup", dir], {});
    expect(verified.code).toBe(1);
    expect(verified.out).toContain("damaged: metahuman/persona/core.json");
    writeFileSync(onVolume(volumeId, "persona/core.json"), '{"name":"current"}');
    const restored = await runVolume(["restore", dir, "--force"], env);
    expect(restored.code).toBe(1);
    expect(restored.err).toContain("does not match its manifest, so nothing was restored");
    expect(readFileSync(onVolume(volumeId, "persona/core.json"), "utf8")).toBe('{"name":"current"}');
  });

  it("restore keeps a file the volume changed after the backup unless --force", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-7");
    writeMetaHumanTree(mine);
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    const backups = path.join(work, "backups-7");
    expect((await runVolume(["backup", backups], env)).code).toBe(0);
    const dir = path.join(backups, readdirSync(backups)[0]!);
    const later = new Date(Date.now() + 60_000);
    writeFileSync(onVolume(volumeId, "persona/core.json"), '{"name":"changed after the backup"}');
    utimesSync(onVolume(volumeId, "persona/core.json"), later, later);
    const refused = await runVolume(["restore", dir], env);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/KEEP\s+metahuman\/persona\/core\.json/);
    expect((await runVolume(["restore", dir, "--force"], env)).code).toBe(0);
    expect(readFileSync(onVolume(volumeId, "persona/core.json"), "utf8")).toBe(readFileSync(path.join(mine, "persona/core.json"), "utf8"));
  });
});

describe("ls and du", () => {
  it("ls lists files with sizes; du sums by area and raises the 80 % storage alert (exit 2)", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const mine = path.join(work, "mine-8");
    writeMetaHumanTree(mine);
    writeFileSync(path.join(mine, "memory/big.bin"), Buffer.alloc(9000));
    expect((await runVolume(["push-data", mine], env)).code).toBe(0);
    const listed = await runVolume(["ls", "metahuman/persona/"], env);
    expect(listed.out).toMatch(/\s+\d+ B {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}metahuman\/persona\/core\.json/);
    expect(listed.out).toContain("3 file(s)");

    const roomy = await runVolume(["du", "--size-gb", String(100_000 / 1024 ** 3)], env);
    expect(roomy.code, roomy.err).toBe(0);
    expect(roomy.out).toMatch(/8\.\d KiB {2}metahuman\/memory/);
    expect(roomy.out).not.toContain("ALERT");
    const full = await runVolume(["du", "--size-gb", String(11_000 / 1024 ** 3)], env);
    expect(full.code).toBe(2);
    expect(full.out).toMatch(/ALERT storage: the volume is 8\d\.\d % full \(over 80 %\)/);
  });
});
