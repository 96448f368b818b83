// backup / verify-backup / restore with an s3:// destination, through `npm run volume`'s entry and the real AWS SDK:
// the volume is on one emulator (RunPod's S3 API, the volume's key), the backup bucket on a second one with another
// key (a store of one's own, reached with BACKUP_* settings). A round trip is byte-identical; the bucket holds the same
// SHA-256 manifest as a local backup; a damaged or interrupted backup is refused; a wrong key, the volume's key or a
// missing bucket is a clear error; no secret is ever printed.
import { spawn, spawnSync, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseS3Url } from "../../src/volume/backup-s3";
import { S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, treeHashes, volumeEnv, writeFixtureModel, writeMetaHumanTree, type CliRun } from "./helpers";

const BACKUP_KEY = { accessKeyId: "AKIABACKUPSTORE0001", secretAccessKey: "backup-store-SECRET-9d8c7b6a5f4e3d2c1b0a" };
const STORE_REGION = "US-KS-2";
const AWS = path.resolve(__dirname, "../../.tools/awscli/bin/aws");

let emu: S3Emulator;
let store: S3Emulator;
let bucket: string;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "volume-backup-s3-"));
  emu = await startS3Emulator();
  store = await startS3Emulator(BACKUP_KEY);
  // The emulator's buckets are volumes: one in US-KS-2 stands for a bucket in that region.
  bucket = await store.createVolume(STORE_REGION);
});
afterAll(async () => {
  await emu?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

const storeEnv = (key = BACKUP_KEY): NodeJS.ProcessEnv => ({
  BACKUP_S3_ENDPOINT: store.s3Url,
  BACKUP_S3_REGION: STORE_REGION,
  BACKUP_AWS_ACCESS_KEY_ID: key.accessKeyId,
  BACKUP_AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
});
const inBucket = (...rel: string[]) => path.join(store.folderOf(bucket), ...rel);
const onVolume = (volumeId: string, rel: string) => path.join(emu.folderOf(volumeId), "metahuman", ...rel.split("/"));

function run(command: string, args: string[], options: SpawnOptions): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

function expectNoSecrets(run: CliRun): void {
  for (const secret of [BACKUP_KEY.secretAccessKey, S3_KEY.secretAccessKey, "wrong-SECRET-value-123"]) {
    expect(run.out.includes(secret) || run.err.includes(secret), `a secret was printed:\n${run.out}\n${run.err}`).toBe(false);
  }
}

/** A volume with a person's tree and a model; returns its id and env. */
async function filledVolume(tag: string): Promise<{ volumeId: string; env: NodeJS.ProcessEnv }> {
  const volumeId = await emu.createVolume();
  const env = volumeEnv(emu, volumeId);
  const mine = path.join(work, `mine-${tag}`);
  writeMetaHumanTree(mine);
  expect((await runVolume(["push-data", mine], env)).code).toBe(0);
  writeFixtureModel(path.join(work, `model-${tag}`), 2000);
  expect((await runVolume(["push-model", "test-org/tiny", "--from", path.join(work, `model-${tag}`)], env)).code).toBe(0);
  return { volumeId, env };
}

describe("backup to s3://bucket/prefix", () => {
  it("round trip: a dated backup in the bucket with the local backup's manifest, verified there, restores byte-identical", async () => {
    const { volumeId, env } = await filledVolume("rt");
    const before = treeHashes(path.join(emu.folderOf(volumeId), "metahuman"));

    const taken = await runVolume(["backup", `s3://${bucket}/nightly`], { ...env, ...storeEnv() });
    expect(taken.code, taken.err).toBe(0);
    expectNoSecrets(taken);
    const [name, ...others] = readdirSync(inBucket("nightly"));
    expect(others).toEqual([]);
    expect(name).toMatch(new RegExp(`^metahuman-backup-${volumeId}-\\d{8}-\\d{6}Z$`));
    const url = `s3://${bucket}/nightly/${name}/`;
    expect(taken.out).toContain(`backup complete and verified: ${url} (7 file(s)`);

    // In the bucket: files/<key> for the MetaHuman tree only, its SHA-256 manifest, backup.json.
    const files = treeHashes(inBucket("nightly", name!, "files"));
    expect(Object.keys(files).sort()).toEqual(Object.keys(before).map((k) => `metahuman/${k}`).sort());
    const manifest = readFileSync(inBucket("nightly", name!, "MANIFEST.sha256"), "utf8");
    expect(manifest.trim().split("\n").sort()).toEqual(Object.entries(files).map(([k, sha]) => `${sha}  ${k}`).sort());
    expect(JSON.parse(readFileSync(inBucket("nightly", name!, "backup.json"), "utf8"))).toMatchObject({ volumeId, dataCenter: "EU-RO-1", files: 7 });
    // The same manifest as a local backup of the same volume.
    const local = path.join(work, "local-rt");
    expect((await runVolume(["backup", local], env)).code).toBe(0);
    expect(readFileSync(path.join(local, readdirSync(local)[0]!, "MANIFEST.sha256"), "utf8")).toBe(manifest);

    // verify-backup needs only the store's settings, not the volume's.
    const verified = await runVolume(["verify-backup", url], storeEnv());
    expect(verified.code, verified.err).toBe(0);
    expect(verified.out).toContain(`OK: 7 file(s) match the manifest (volume ${volumeId}`);

    rmSync(path.join(emu.folderOf(volumeId), "metahuman"), { recursive: true });
    const restored = await runVolume(["restore", url], { ...env, ...storeEnv() });
    expect(restored.code, restored.err).toBe(0);
    expectNoSecrets(restored);
    expect(restored.out).toContain(`backup of volume ${volumeId} taken`);
    expect(treeHashes(path.join(emu.folderOf(volumeId), "metahuman"))).toEqual(before);
    // The model cache was left out of the backup and stayed on the volume.
    expect(existsSync(path.join(emu.folderOf(volumeId), "huggingface-cache"))).toBe(true);
  });

  it("a damaged or extra object fails verify-backup by name; restore refuses it and leaves the volume alone", async () => {
    const { volumeId, env } = await filledVolume("dmg");
    expect((await runVolume(["backup", `s3://${bucket}/damaged`], { ...env, ...storeEnv() })).code).toBe(0);
    const name = readdirSync(inBucket("damaged"))[0]!;
    const url = `s3://${bucket}/damaged/${name}`;
    writeFileSync(inBucket("damaged", name, "files", "metahuman", "persona", "core.json"), '{"name":"tampered"}');
    writeFileSync(inBucket("damaged", name, "files", "metahuman", "stray.json"), "{}");
    const verified = await runVolume(["verify-backup", url], storeEnv());
    expect(verified.code).toBe(1);
    expect(verified.out).toContain("damaged: metahuman/persona/core.json");
    expect(verified.out).toContain("not in the manifest: metahuman/stray.json");
    expect(verified.out).toContain("FAILED: 2 problem(s)");

    writeFileSync(onVolume(volumeId, "persona/core.json"), '{"name":"current"}');
    const restored = await runVolume(["restore", url, "--force"], { ...env, ...storeEnv() });
    expect(restored.code).toBe(1);
    expect(restored.err).toContain(`backup ${url}/ does not match its manifest, so nothing was restored`);
    expect(readFileSync(onVolume(volumeId, "persona/core.json"), "utf8")).toBe('{"name":"current"}');
  });

  it("an upload cut before backup.json leaves an incomplete backup that verify-backup and restore refuse", async () => {
    const { env } = await filledVolume("cut");
    // Every attempt to put backup.json loses its connection (the SDK retries, then gives up).
    expect(await store.control("POST", "/_emulator/s3/drops", { pathPattern: "/interrupted/.*/backup\\.json$", afterBytes: 10, times: 20 })).toBe(201);
    try {
      const cut = await runVolume(["backup", `s3://${bucket}/interrupted`], { ...env, ...storeEnv() });
      expect(cut.code).toBe(1);
      expect(cut.err).toMatch(/is incomplete: it has no backup\.json, so verify-backup and restore refuse it/);
    } finally {
      await store.control("DELETE", "/_emulator/s3/drops");
    }
    const name = readdirSync(inBucket("interrupted"))[0]!;
    expect(existsSync(inBucket("interrupted", name, "MANIFEST.sha256"))).toBe(true);
    expect(existsSync(inBucket("interrupted", name, "backup.json"))).toBe(false);
    const verified = await runVolume(["verify-backup", `s3://${bucket}/interrupted/${name}`], storeEnv());
    expect(verified.code).toBe(1);
    expect(verified.err).toContain(`s3://${bucket}/interrupted/${name}/ is not a complete backup (no backup.json`);
    const restored = await runVolume(["restore", `s3://${bucket}/interrupted/${name}`], { ...env, ...storeEnv() });
    expect(restored.code).toBe(1);
    expect(restored.err).toContain("is not a complete backup");
  });

  it("checks without this tool: the AWS CLI syncs the backup to disk, and `sha256sum -c` accepts its manifest", async () => {
    const { env } = await filledVolume("awscli");
    expect((await runVolume(["backup", `s3://${bucket}/by-cli`], { ...env, ...storeEnv() })).code).toBe(0);
    const name = readdirSync(inBucket("by-cli"))[0]!;
    const copy = path.join(work, "by-cli");
    const home = mkdtempSync(path.join(tmpdir(), "aws-home-"));
    // Asynchronously: the emulator answers from this process.
    const sync = await run(AWS, ["s3", "sync", `s3://${bucket}/by-cli/${name}/`, copy, "--region", STORE_REGION, "--endpoint-url", store.s3Url], {
      env: {
        PATH: process.env.PATH, HOME: home, AWS_CONFIG_FILE: path.join(home, "none"), AWS_SHARED_CREDENTIALS_FILE: path.join(home, "none"),
        AWS_ACCESS_KEY_ID: BACKUP_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: BACKUP_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: "true",
      },
    });
    rmSync(home, { recursive: true, force: true });
    expect(sync.code, sync.stderr).toBe(0);
    const check = spawnSync("sha256sum", ["-c", "../MANIFEST.sha256"], { cwd: path.join(copy, "files"), encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout.trim().split("\n")).toHaveLength(7);
    expect(check.stdout).toContain("metahuman/persona/core.json: OK");
  });

  it("the prefix above backups names the backups under it", async () => {
    const { env } = await filledVolume("list");
    expect((await runVolume(["backup", `s3://${bucket}/listed/`], { ...env, ...storeEnv() })).code).toBe(0);
    const name = readdirSync(inBucket("listed"))[0]!;
    const run = await runVolume(["verify-backup", `s3://${bucket}/listed`], storeEnv());
    expect(run.code).toBe(1);
    expect(run.err).toContain(`s3://${bucket}/listed/ is not a backup itself; the backups under it:\n  s3://${bucket}/listed/${name}/`);
  });
});

describe("the backup store's own settings", () => {
  it("a wrong secret is refused naming BACKUP_AWS_*, never printed; nothing is written to the bucket", async () => {
    const { env } = await filledVolume("wrong");
    const run = await runVolume(["backup", `s3://${bucket}/wrong-key`], { ...env, ...storeEnv({ ...BACKUP_KEY, secretAccessKey: "wrong-SECRET-value-123" }) });
    expect(run.code).toBe(1);
    expect(run.err).toContain(`the backup store at ${store.s3Url} refused the key (SignatureDoesNotMatch): check BACKUP_AWS_ACCESS_KEY_ID (${BACKUP_KEY.accessKeyId}) and BACKUP_AWS_SECRET_ACCESS_KEY`);
    expectNoSecrets(run);
    expect(existsSync(inBucket("wrong-key"))).toBe(false);
  });

  it("the volume's RunPod S3 key does not open the backup store: the two keys are distinct settings", async () => {
    const { env } = await filledVolume("volkey");
    const withVolumeKey = await runVolume(["backup", `s3://${bucket}/volume-key`], { ...env, ...storeEnv(S3_KEY) });
    expect(withVolumeKey.code).toBe(1);
    expect(withVolumeKey.err).toMatch(/refused the key \(InvalidAccessKeyId\)/);
    expectNoSecrets(withVolumeKey);
    // Without BACKUP_AWS_* the volume's key is not borrowed.
    const keyless = await runVolume(["backup", `s3://${bucket}/no-key`], { ...env, BACKUP_S3_ENDPOINT: store.s3Url, BACKUP_S3_REGION: STORE_REGION });
    expect(keyless.code).toBe(1);
    expect(keyless.err).toContain(`no key for the backup store s3://${bucket}/no-key/: set BACKUP_AWS_ACCESS_KEY_ID and BACKUP_AWS_SECRET_ACCESS_KEY`);
    expect(existsSync(inBucket("volume-key")) || existsSync(inBucket("no-key"))).toBe(false);
  });

  it("a missing bucket and a wrong region are named with what to set", async () => {
    const { env } = await filledVolume("nobucket");
    const missing = await runVolume(["backup", "s3://no-such-bucket-here/x"], { ...env, ...storeEnv() });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`bucket no-such-bucket-here does not exist at ${store.s3Url}: create it, or check the s3:// URL and BACKUP_S3_ENDPOINT`);
    const region = await runVolume(["verify-backup", `s3://${bucket}/x`], { ...storeEnv(), BACKUP_S3_REGION: "us-east-1" });
    expect(region.code).toBe(1);
    expect(region.err).toContain(`bucket ${bucket} is not in region us-east-1: set BACKUP_S3_REGION`);
    // --backup-region overrides the environment.
    const flagged = await runVolume(["verify-backup", `s3://${bucket}/x`, "--backup-region", STORE_REGION], { ...storeEnv(), BACKUP_S3_REGION: "us-east-1" });
    expect(flagged.err).toContain(`s3://${bucket}/x/ holds nothing: no backup there`);
  });
});

describe("parseS3Url", () => {
  it("splits bucket and prefix, and refuses what is not a bucket name or a plain prefix", () => {
    expect(parseS3Url("s3://my-backups/metahuman/nightly/")).toEqual({ bucket: "my-backups", prefix: "metahuman/nightly/" });
    expect(parseS3Url("s3://my-backups")).toEqual({ bucket: "my-backups", prefix: "" });
    expect(parseS3Url("/home/ada/backups")).toBeUndefined();
    expect(() => parseS3Url("s3://My_Bucket/x")).toThrow(/is not a bucket name/);
    expect(() => parseS3Url("s3://bucket/../x")).toThrow(/plain path/);
  });
});
