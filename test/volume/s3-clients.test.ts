// S3 clients nobody here wrote, against the emulator's S3 API at the root of a data center's own listener (as
// RunPod serves https://s3api-<dc>.runpod.io/): rclone (Go: numeric character references in its XML, metadata for
// modification times, server-side copies), s3cmd (signs the path as sent, ListObjects v1) and boto3 (the library
// RunPod documents). Each copies a folder up, copies it again unchanged, copies server-side, uploads in parts,
// lists past 1,000 keys, reads ranges and deletes; the volume tool then pulls and pushes over what they wrote.
// Any byte lost fails: every check compares SHA-256 of the volume's files with the source's.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { S3Listener } from "../../src/emulator/s3/s3-api";
import { S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, treeHashes } from "./helpers";

const BOTO_PYTHON = path.resolve(__dirname, "../../.tools/s3clients/bin/python");
const MIB = 1024 * 1024;
let emu: S3Emulator;
let s3: S3Listener;
let work: string;
let src: string;
let volumeId: string;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const onVolume = (key: string) => path.join(emu.folderOf(volumeId), ...key.split("/"));

/** `out` is stdout and stderr together; `stdout` alone (what a command printed as its answer). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH, HOME: work, LANG: "C.UTF-8", ...env } });
    let out = "";
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { out += d; });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out, stdout }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

async function ok(command: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<string> {
  const res = await run(command, args, env, input);
  if (res.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${res.code}:\n${res.out.slice(-3000)}`);
  return res.stdout;
}

beforeAll(async () => {
  for (const tool of ["rclone", "s3cmd"]) {
    if ((await run("sh", ["-c", `command -v ${tool}`])).code !== 0) throw new Error(`${tool} is missing: install Debian's package (sudo apt-get install rclone s3cmd; bash scripts/setup.sh does it as root)`);
  }
  if (!existsSync(BOTO_PYTHON)) throw new Error(`${BOTO_PYTHON} is missing: run \`bash scripts/setup-python.sh\` (it installs test/requirements-s3-clients.txt)`);
  emu = await startS3Emulator();
  s3 = await emu.listener("EU-RO-1");
  volumeId = await emu.createVolume("EU-RO-1", 20);
  work = mkdtempSync(path.join(tmpdir(), "s3-clients-"));
  // The folder each client copies up: a 20 MiB file (several parts for most clients), small ones, nesting.
  src = path.join(work, "src");
  mkdirSync(path.join(src, "persona", "deep"), { recursive: true });
  writeFileSync(path.join(src, "weights.bin"), randomBytes(20 * MIB + 17));
  writeFileSync(path.join(src, "persona", "core.json"), JSON.stringify({ name: "ada" }));
  writeFileSync(path.join(src, "persona", "deep", "notes.md"), "# notes\n".repeat(100));
  writeFileSync(path.join(src, "persona", "empty.txt"), "");
  writeFileSync(path.join(work, "big64.bin"), randomBytes(64 * MIB + 5));
  // Over 1,000 keys, written straight into the volume's folder as a pod would.
  mkdirSync(onVolume("many"), { recursive: true });
  for (let i = 0; i < 1105; i += 1) writeFileSync(onVolume(`many/f${String(i).padStart(4, "0")}`), String(i));
}, 120_000);
afterAll(async () => {
  await emu?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** SHA-256 of the volume's files under `prefix`, by path below it. */
const volumeHashes = (prefix: string) => treeHashes(onVolume(prefix));

describe("rclone (Debian's package)", () => {
  const env = () => ({
    RCLONE_CONFIG: path.join(work, "no-rclone.conf"),
    RCLONE_CONFIG_EMU_TYPE: "s3", RCLONE_CONFIG_EMU_PROVIDER: "Other", RCLONE_CONFIG_EMU_ENDPOINT: s3.url,
    RCLONE_CONFIG_EMU_REGION: "EU-RO-1", RCLONE_CONFIG_EMU_ACCESS_KEY_ID: S3_KEY.accessKeyId,
    RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, RCLONE_CONFIG_EMU_FORCE_PATH_STYLE: "true",
  });
  const rclone = (...args: string[]) => ok("rclone", [...args, "--retries", "1", "--low-level-retries", "1"], env());

  it("copies a folder up, and again unchanged: every byte and hash stays; a server-side copy is byte for byte", async () => {
    await rclone("copy", src, `emu:${volumeId}/rclone`);
    expect(volumeHashes("rclone")).toEqual(treeHashes(src));
    const mtimeBefore = statSync(onVolume("rclone/weights.bin")).mtimeMs;
    await rclone("copy", src, `emu:${volumeId}/rclone`);
    expect(volumeHashes("rclone")).toEqual(treeHashes(src));
    // Nothing was uploaded again: the kept x-amz-meta-mtime told rclone the files were the same.
    expect(statSync(onVolume("rclone/weights.bin")).mtimeMs).toBe(mtimeBefore);
    await rclone("check", src, `emu:${volumeId}/rclone`);

    await rclone("copyto", `emu:${volumeId}/rclone/weights.bin`, `emu:${volumeId}/rclone-copy/weights.bin`);
    expect(sha(readFileSync(onVolume("rclone-copy/weights.bin")))).toBe(sha(readFileSync(path.join(src, "weights.bin"))));
  }, 120_000);

  it("uploads 64 MiB in 16 MiB parts (CompleteMultipartUpload with numeric references), lists past 1,000 keys, reads a range, deletes", async () => {
    await rclone("copyto", path.join(work, "big64.bin"), `emu:${volumeId}/rclone/big64.bin`, "--s3-upload-cutoff", "16M", "--s3-chunk-size", "16M");
    expect(sha(readFileSync(onVolume("rclone/big64.bin")))).toBe(sha(readFileSync(path.join(work, "big64.bin"))));
    const listed = (await rclone("lsf", `emu:${volumeId}/many`)).split("\n").filter((line) => /^f\d{4}$/.test(line));
    expect(new Set(listed).size).toBe(1105);
    const range = await rclone("cat", `emu:${volumeId}/rclone/persona/deep/notes.md`, "--offset", "8", "--count", "16");
    expect(range).toBe("# notes\n".repeat(100).slice(8, 24));
    await rclone("delete", `emu:${volumeId}/rclone-copy`);
    expect(existsSync(onVolume("rclone-copy/weights.bin"))).toBe(false);
  }, 120_000);
});

describe("s3cmd (Debian's package)", () => {
  const config = () => {
    const file = path.join(work, "s3cfg");
    const host = new URL(s3.url).host;
    writeFileSync(file, [
      "[default]", `access_key = ${S3_KEY.accessKeyId}`, `secret_key = ${S3_KEY.secretAccessKey}`, `host_base = ${host}`,
      `host_bucket = ${host}`, "use_https = False", "bucket_location = EU-RO-1", "signature_v2 = False", "check_ssl_certificate = False", "",
    ].join("\n"));
    return file;
  };
  const s3cmd = (...args: string[]) => ok("s3cmd", ["-c", config(), "--no-progress", ...args]);

  it("syncs a folder up, and again unchanged; copies server-side; uploads in parts; lists past 1,000 keys", async () => {
    await s3cmd("sync", `${src}/`, `s3://${volumeId}/s3cmd/`);
    expect(volumeHashes("s3cmd")).toEqual(treeHashes(src));
    await s3cmd("sync", `${src}/`, `s3://${volumeId}/s3cmd/`);
    expect(volumeHashes("s3cmd")).toEqual(treeHashes(src));

    await s3cmd("cp", `s3://${volumeId}/s3cmd/weights.bin`, `s3://${volumeId}/s3cmd-copy/weights.bin`);
    expect(sha(readFileSync(onVolume("s3cmd-copy/weights.bin")))).toBe(sha(readFileSync(path.join(src, "weights.bin"))));

    await s3cmd("put", "--multipart-chunk-size-mb=8", path.join(src, "weights.bin"), `s3://${volumeId}/s3cmd/parts.bin`);
    expect(sha(readFileSync(onVolume("s3cmd/parts.bin")))).toBe(sha(readFileSync(path.join(src, "weights.bin"))));

    const listed = (await s3cmd("ls", `s3://${volumeId}/many/`)).split("\n").filter((line) => /\/many\/f\d{4}$/.test(line));
    expect(new Set(listed).size).toBe(1105);
  }, 120_000);

  it("a recursive delete (DeleteObjects, which RunPod does not offer) fails with NotImplemented and deletes nothing; one by one works", async () => {
    const batch = await run("s3cmd", ["-c", config(), "del", "--recursive", "--force", `s3://${volumeId}/s3cmd-copy/`]);
    expect(batch.code).not.toBe(0);
    expect(batch.out).toContain("NotImplemented");
    expect(existsSync(onVolume("s3cmd-copy/weights.bin"))).toBe(true);
    await s3cmd("del", `s3://${volumeId}/s3cmd-copy/weights.bin`);
    expect(existsSync(onVolume("s3cmd-copy/weights.bin"))).toBe(false);
  }, 60_000);
});

describe("boto3 (PyPI, in its own venv)", () => {
  const python = (script: string) => ok(BOTO_PYTHON, ["-c", script], {
    AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    AWS_EC2_METADATA_DISABLED: "true", ENDPOINT: s3.url, BUCKET: volumeId, WORK: work, SRC: src,
  });
  const prelude = `
import os, json, hashlib, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", region_name="EU-RO-1", endpoint_url=os.environ["ENDPOINT"], config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
B = os.environ["BUCKET"]
`;

  it("uploads a folder (64 MiB in parts), again unchanged, copy_object of 20 MiB with metadata, ranges, paginated listing", async () => {
    const out = await python(`${prelude}
cfg = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)
for _ in range(2):
    for root, _dirs, files in os.walk(os.environ["SRC"]):
        for f in files:
            full = os.path.join(root, f)
            s3.upload_file(full, B, "boto/" + os.path.relpath(full, os.environ["SRC"]), Config=cfg, ExtraArgs={"Metadata": {"origin": "boto"}})
s3.upload_file(os.path.join(os.environ["WORK"], "big64.bin"), B, "boto/big64.bin", Config=cfg)
copied = s3.copy_object(Bucket=B, Key="boto-copy/weights.bin", CopySource={"Bucket": B, "Key": "boto/weights.bin"})
head = s3.head_object(Bucket=B, Key="boto-copy/weights.bin")
ranged = s3.get_object(Bucket=B, Key="boto/persona/deep/notes.md", Range="bytes=8-23")["Body"].read().decode()
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix="many/") for o in page.get("Contents", [])]
v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket=B, Prefix="many/") for o in page.get("Contents", [])]
try:
    s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "boto-copy/weights.bin"}], "Quiet": True})
    batch = "deleted"
except ClientError as e:
    batch = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps({"etag": copied["CopyObjectResult"]["ETag"], "meta": head["Metadata"], "length": head["ContentLength"], "ranged": ranged, "keys": len(keys), "unique": len(set(keys)), "v1": len(v1), "batch": batch}))
`);
    const result = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
    const weights = readFileSync(path.join(src, "weights.bin"));
    expect(result).toEqual({
      etag: `"${createHash("md5").update(weights).digest("hex")}"`, meta: { origin: "boto" }, length: weights.length,
      ranged: "# notes\n".repeat(100).slice(8, 24), keys: 1105, unique: 1105, v1: 1105, batch: ["NotImplemented", 501],
    });
    expect(volumeHashes("boto")).toEqual({ ...treeHashes(src), "big64.bin": sha(readFileSync(path.join(work, "big64.bin"))) });
    expect(sha(readFileSync(onVolume("boto-copy/weights.bin")))).toBe(sha(weights));
  }, 120_000);
});

describe("the volume tool over what those clients wrote", () => {
  it("pull-data brings down rclone's and boto3's files byte for byte; push-data of a changed tree is read back by rclone", async () => {
    const env = {
      RUNPOD_S3_ENDPOINT_URL: s3.url, RUNPOD_VOLUME_ID: volumeId, RUNPOD_DATA_CENTER: "EU-RO-1",
      RUNPOD_S3_ACCESS_KEY_ID: S3_KEY.accessKeyId, RUNPOD_S3_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey,
    };
    // metahuman/ as rclone wrote it.
    await ok("rclone", ["copy", src, `emu:${volumeId}/metahuman`], {
      RCLONE_CONFIG: path.join(work, "no-rclone.conf"), RCLONE_CONFIG_EMU_TYPE: "s3", RCLONE_CONFIG_EMU_PROVIDER: "Other",
      RCLONE_CONFIG_EMU_ENDPOINT: s3.url, RCLONE_CONFIG_EMU_REGION: "EU-RO-1", RCLONE_CONFIG_EMU_ACCESS_KEY_ID: S3_KEY.accessKeyId,
      RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, RCLONE_CONFIG_EMU_FORCE_PATH_STYLE: "true",
    });
    const pulled = path.join(work, "pulled");
    const pull = await runVolume(["pull-data", pulled], env);
    expect(pull.code, pull.err).toBe(0);
    expect(treeHashes(pulled)).toEqual(treeHashes(src));

    writeFileSync(path.join(pulled, "persona", "core.json"), JSON.stringify({ name: "ada", changed: true }));
    const push = await runVolume(["push-data", pulled], env);
    expect(push.code, push.err).toBe(0);
    expect(volumeHashes("metahuman")).toEqual(treeHashes(pulled));
  }, 120_000);
});
