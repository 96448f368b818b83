// The AWS CLI (PyPI awscli, the client RunPod documents for its S3 API) against the emulator's S3 API, as RunPod's
// docs show it: `aws s3 ... --region <DC> --endpoint-url <endpoint>`. Its uploads use its own defaults (checksums,
// multipart above 8 MiB), so this is the other side's code proving the emulator's S3 subset.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";

const AWS = path.resolve(__dirname, "../../.tools/awscli/bin/aws");
let emu: S3Emulator;
let work: string;
let volumeId: string;

beforeAll(async () => {
  if (!existsSync(AWS)) throw new Error(`${AWS} is missing: run \`bash scripts/setup-python.sh\` (it installs test/requirements-awscli.txt)`);
  emu = await startS3Emulator();
  work = mkdtempSync(path.join(tmpdir(), "awscli-"));
  volumeId = await emu.createVolume("EU-RO-1");
});
afterAll(async () => {
  await emu?.close();
  rmSync(work, { recursive: true, force: true });
});

/** `aws <args> --region EU-RO-1 --endpoint-url <emulator>/s3`, asynchronously: the emulator answers from this process. */
function aws(args: string[], key = S3_KEY): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(AWS, [...args, "--region", "EU-RO-1", "--endpoint-url", emu.s3Url], {
      env: {
        PATH: process.env.PATH, HOME: work, AWS_CONFIG_FILE: path.join(work, "no-config"), AWS_SHARED_CREDENTIALS_FILE: path.join(work, "no-credentials"),
        AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_EC2_METADATA_DISABLED: "true",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("the AWS CLI against the emulator's S3 API", () => {
  it("cp up (one PUT, and multipart above 8 MiB), ls, head-object, cp down: byte for byte", async () => {
    const small = path.join(work, "core.json");
    writeFileSync(small, '{"name":"Ada"}');
    const big = path.join(work, "model.safetensors");
    const bigBytes = randomBytes(13 * 1024 * 1024 + 7);
    writeFileSync(big, bigBytes);
    const up1 = await aws(["s3", "cp", small, `s3://${volumeId}/metahuman/persona/core.json`]);
    expect(up1.code, up1.stderr).toBe(0);
    const up2 = await aws(["s3", "cp", big, `s3://${volumeId}/huggingface-cache/hub/models--o--m/snapshots/c/model.safetensors`]);
    expect(up2.code, up2.stderr).toBe(0);
    expect(sha(readFileSync(path.join(emu.folderOf(volumeId), "huggingface-cache/hub/models--o--m/snapshots/c/model.safetensors")))).toBe(sha(bigBytes));

    const ls = await aws(["s3", "ls", "--recursive", `s3://${volumeId}/`]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/ 14 metahuman\/persona\/core\.json/);
    expect(ls.stdout).toContain(`${bigBytes.length} huggingface-cache/hub/models--o--m/snapshots/c/model.safetensors`);

    const head = await aws(["s3api", "head-object", "--bucket", volumeId, "--key", "metahuman/persona/core.json"]);
    expect(head.code, head.stderr).toBe(0);
    expect(JSON.parse(head.stdout)).toMatchObject({ ContentLength: 14 });

    const down = path.join(work, "down");
    mkdirSync(down);
    const sync = await aws(["s3", "sync", `s3://${volumeId}/`, down]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(readFileSync(path.join(down, "metahuman/persona/core.json"), "utf8")).toBe('{"name":"Ada"}');
    expect(sha(readFileSync(path.join(down, "huggingface-cache/hub/models--o--m/snapshots/c/model.safetensors")))).toBe(sha(bigBytes));

    const rm = await aws(["s3", "rm", `s3://${volumeId}/metahuman/persona/core.json`]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(path.join(emu.folderOf(volumeId), "metahuman/persona/core.json"))).toBe(false);
  });

  it("a wrong secret is refused (SignatureDoesNotMatch) and writes nothing", async () => {
    const file = path.join(work, "denied.txt");
    writeFileSync(file, "x");
    const run = await aws(["s3", "cp", file, `s3://${volumeId}/denied.txt`], { ...S3_KEY, secretAccessKey: "rps_wrong" });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("SignatureDoesNotMatch");
    expect(existsSync(path.join(emu.folderOf(volumeId), "denied.txt"))).toBe(false);
  });
});
