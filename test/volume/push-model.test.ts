// `npm run volume -- push-model` against the emulator's S3 API (the real AWS SDK over loopback): the model lands in
// the Hugging Face cache layout the worker reads, big files in verified parts; a second run uploads nothing; an
// upload interrupted mid-part is resumed from the parts already there; faults and bad input end in words.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HF_HUB_CACHE } from "../../src/infra/metahuman-stack";
import { VOLUME_MOUNT_PATH } from "../../src/infra/config";
import { HF_CACHE_PREFIX } from "../../src/volume/layout";
import { API_KEY, S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, treeHashes, volumeEnv, writeFixtureModel } from "./helpers";

let emu: S3Emulator;
let work: string;

beforeAll(async () => {
  emu = await startS3Emulator();
  work = mkdtempSync(path.join(tmpdir(), "push-model-"));
});
afterAll(async () => {
  await emu?.close();
  rmSync(work, { recursive: true, force: true });
});

const MODEL = "test-org/tiny-chat";
const repoDir = (volumeId: string) => path.join(emu.folderOf(volumeId), "huggingface-cache", "hub", "models--test-org--tiny-chat");

describe("push-model --from <dir>", () => {
  it("writes the volume's key prefix where the stack's HF_HUB_CACHE points", () => {
    expect(`${VOLUME_MOUNT_PATH}/${HF_CACHE_PREFIX}`).toBe(`${HF_HUB_CACHE}/`);
  });

  it("uploads into models--org--name/snapshots/<commit>/ with refs/main, byte for byte; a second run skips every file", async () => {
    const volumeId = await emu.createVolume();
    const model = path.join(work, "model-a");
    writeFixtureModel(model);
    const env = volumeEnv(emu, volumeId);
    const first = await runVolume(["push-model", MODEL, "--from", model, "--part-size-mib", "5"], env);
    expect(first.code, first.err).toBe(0);
    const commit = readFileSync(path.join(repoDir(volumeId), "refs", "main"), "utf8");
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(treeHashes(path.join(repoDir(volumeId), "snapshots", commit))).toEqual(treeHashes(model));
    expect(first.out).toContain(`MODEL_NAME=${MODEL}`);
    expect(first.out).toMatch(/uploaded 4 file\(s\), 12\.0 MiB in \S+ \([\d.]+ (MiB|GiB|KiB)\/s\)/);
    expect(first.err).toMatch(/\[#+\] 100% 12\.0 MiB \/ 12\.0 MiB .*ETA 0s/);
    // No multipart upload is left behind, nothing of the emulator's own leaks into the cache.
    expect(readdirSync(path.join(emu.folderOf(volumeId), ".s3-uploads"))).toEqual([]);

    const second = await runVolume(["push-model", MODEL, "--from", model], env);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain("0 to upload, 0 B; 4 already there");
    expect(readFileSync(path.join(repoDir(volumeId), "refs", "main"), "utf8")).toBe(commit);
  });

  it("a named revision becomes refs/<branch>; a commit from a local cache's snapshot folder is kept", async () => {
    const volumeId = await emu.createVolume();
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const snapshot = path.join(work, "hfcache", "models--test-org--tiny-chat", "snapshots", commit);
    writeFixtureModel(snapshot, 1000);
    const run = await runVolume(["push-model", `${MODEL}@v2`, "--from", snapshot], volumeEnv(emu, volumeId));
    expect(run.code, run.err).toBe(0);
    expect(readFileSync(path.join(repoDir(volumeId), "refs", "v2"), "utf8")).toBe(commit);
    expect(existsSync(path.join(repoDir(volumeId), "snapshots", commit, "config.json"))).toBe(true);
    expect(run.out).toContain("MODEL_REVISION=v2");
  });

  it("survives dropped connections and 5xx answers mid-part (the SDK's retries), and the file is whole", async () => {
    const volumeId = await emu.createVolume();
    const model = path.join(work, "model-flaky");
    writeFixtureModel(model);
    expect(await emu.control("POST", "/_emulator/s3/drops", { pathPattern: "model\\.safetensors$", queryPattern: "partNumber=2", afterBytes: 1024 * 1024, times: 1 })).toBe(201);
    expect(await emu.control("POST", "/_emulator/faults", { method: "PUT", pathPattern: "model\\.safetensors$", status: 503, times: 2 })).toBe(201);
    const run = await runVolume(["push-model", MODEL, "--from", model, "--part-size-mib", "5"], volumeEnv(emu, volumeId));
    expect(run.code, run.err).toBe(0);
    const commit = readFileSync(path.join(repoDir(volumeId), "refs", "main"), "utf8");
    expect(treeHashes(path.join(repoDir(volumeId), "snapshots", commit))).toEqual(treeHashes(model));
  });

  it("an upload interrupted for good fails in words, writes no ref, and the next run resumes from the parts already there", async () => {
    const volumeId = await emu.createVolume();
    const model = path.join(work, "model-resume");
    writeFixtureModel(model, 16 * 1024 * 1024);
    // Part 3 of the weights never gets through: every attempt the SDK makes is cut after 1 MiB.
    await emu.control("POST", "/_emulator/s3/drops", { pathPattern: "model\\.safetensors$", queryPattern: "partNumber=3&", afterBytes: 1024 * 1024, times: 50 });
    const env = volumeEnv(emu, volumeId);
    const failed = await runVolume(["push-model", MODEL, "--from", model, "--part-size-mib", "5", "--concurrency", "1"], env);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/uploading part 3 of 4 of .*model\.safetensors \(run the same command again to resume\): the connection to .* failed/);
    expect(existsSync(path.join(repoDir(volumeId), "refs", "main"))).toBe(false);
    await emu.control("DELETE", "/_emulator/s3/drops");

    const resumed = await runVolume(["push-model", MODEL, "--from", model, "--part-size-mib", "8"], env);
    expect(resumed.code, resumed.err).toBe(0);
    // The interrupted run's 5 MiB parts are reused (its part size wins over --part-size-mib 8).
    expect(resumed.out).toContain("2 part(s) resumed from an interrupted run");
    const commit = readFileSync(path.join(repoDir(volumeId), "refs", "main"), "utf8");
    expect(treeHashes(path.join(repoDir(volumeId), "snapshots", commit))).toEqual(treeHashes(model));
  });
});

describe("push-model: bad input and faults", () => {
  it("a missing model folder, a folder that is no model, and a bad id are named; nothing is uploaded", async () => {
    const volumeId = await emu.createVolume();
    const env = volumeEnv(emu, volumeId);
    const missing = await runVolume(["push-model", MODEL, "--from", path.join(work, "nope")], env);
    expect([missing.code, missing.err]).toEqual([1, expect.stringContaining(`model folder ${path.join(work, "nope")} does not exist`)]);
    const notModel = path.join(work, "not-a-model");
    writeFixtureModel(notModel, 10);
    rmSync(path.join(notModel, "config.json"));
    const noConfig = await runVolume(["push-model", MODEL, "--from", notModel], env);
    expect(noConfig.err).toContain("has no config.json");
    const badId = await runVolume(["push-model", "not a model id", "--from", notModel], env);
    expect(badId.err).toContain('"not a model id" is not a Hugging Face model id');
    expect(existsSync(emu.folderOf(volumeId))).toBe(false);
  });

  it("a model id the hub does not know is named (the real `npm run volume` entry, Hugging Face's CLI answering 404)", async () => {
    const volumeId = await emu.createVolume();
    // No hub can be reached here: a stand-in `hf` on PATH answers as huggingface_hub does for a missing repository.
    const bin = path.join(work, "fake-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "hf"), "#!/bin/sh\necho 'huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url: https://huggingface.co/api/models/no-such-org/no-such-model/revision/main.' >&2\nexit 1\n", { mode: 0o755 });
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/volume.ts", "push-model", "no-such-org/no-such-model"], {
      cwd: path.resolve(__dirname, "../.."), encoding: "utf8", timeout: 60_000,
      env: { ...process.env, ...volumeEnv(emu, volumeId), PATH: `${bin}${path.delimiter}${process.env.PATH}` },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("model no-such-org/no-such-model does not exist on the Hugging Face hub");
    expect(existsSync(emu.folderOf(volumeId))).toBe(false);
  });

  it("a wrong S3 secret is refused in words that name the variables, never the secret", async () => {
    const volumeId = await emu.createVolume();
    const model = path.join(work, "model-denied");
    writeFixtureModel(model, 100);
    const wrong = { ...S3_KEY, secretAccessKey: "rps_WRONGsecret_must_not_leak_0123" };
    const run = await runVolume(["push-model", MODEL, "--from", model], volumeEnv(emu, volumeId, "EU-RO-1", wrong));
    expect(run.code).toBe(1);
    expect(run.err).toContain("the S3 API key was refused (SignatureDoesNotMatch)");
    expect(run.err).toContain("RUNPOD_S3_SECRET_ACCESS_KEY");
    expect(run.out + run.err).not.toContain("rps_WRONGsecret");
  });

  it("a data center without the S3 API is rejected by name before any request", async () => {
    const volumeId = await emu.createVolume("EU-SE-1");
    await emu.control("DELETE", "/_emulator/requests");
    const run = await runVolume(["ls"], volumeEnv(emu, volumeId, "EU-SE-1"));
    expect(run.code).toBe(1);
    expect(run.err).toContain("data center EU-SE-1 has no S3 API for network volumes");
    expect(run.err).toContain("EU-RO-1, EUR-IS-1");
    const res = await fetch(`${emu.origin}/_emulator/requests`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(((await res.json()) as { requests: { path: string }[] }).requests.filter((r) => r.path.startsWith("/s3"))).toEqual([]);
  });

  it("a model that does not fit the volume fails before the first byte when the size is known, and on a 507 otherwise", async () => {
    const volumeId = await emu.createVolume();
    const model = path.join(work, "model-big");
    writeFixtureModel(model, 40_000);
    const env = volumeEnv(emu, volumeId);
    const early = await runVolume(["push-model", MODEL, "--from", model, "--size-gb", String(20_000 / 1024 ** 3)], env);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/has 19\.5 KiB free of 19\.5 KiB, and this needs 39\.\d KiB: grow it/);
    expect(existsSync(emu.folderOf(volumeId))).toBe(false);

    await emu.control("PUT", `/_emulator/s3/volumes/${volumeId}/capacity`, { bytes: 20_000 });
    const late = await runVolume(["push-model", MODEL, "--from", model], env);
    expect(late.code).toBe(1);
    expect(late.err).toContain(`network volume ${volumeId} is full: grow it`);
    expect(existsSync(path.join(repoDir(volumeId), "refs"))).toBe(false);
  });
});
