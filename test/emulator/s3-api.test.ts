// The emulator's S3 API for network volumes, driven by the real AWS SDK (@aws-sdk/client-s3) over loopback:
// objects are the volume folder's files, signatures are checked with the local S3 key, multipart uploads join
// their parts, a full volume refuses a write and keeps nothing of it.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand,
  PutObjectCommand, S3ServiceException, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createHash as nodeHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, S3_KEY, startS3Emulator, type S3Emulator } from "./s3-fixture";

let emu: S3Emulator;
let volumeId: string;

beforeAll(async () => {
  emu = await startS3Emulator();
  volumeId = await emu.createVolume("EU-RO-1");
});
afterAll(async () => emu?.close());

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

describe("S3 API over the volume folder", () => {
  it("PutObject writes the file, Head and Get read it, ListObjectsV2 lists it", async () => {
    const s3 = emu.client("EU-RO-1");
    const body = Buffer.from('{"name":"Ada"}\n');
    const put = await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "metahuman/persona/core.json", Body: body }));
    expect(put.ETag).toBe(`"${md5(body)}"`);
    expect(readFileSync(path.join(emu.folderOf(volumeId), "metahuman", "persona", "core.json"))).toEqual(body);

    const head = await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "metahuman/persona/core.json" }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(`"${md5(body)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: volumeId, Key: "metahuman/persona/core.json" }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    const ranged = await s3.send(new GetObjectCommand({ Bucket: volumeId, Key: "metahuman/persona/core.json", Range: "bytes=2-5" }));
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).toString()).toBe('name');

    // A file written on the volume by the pod is an object too.
    mkdirSync(path.join(emu.folderOf(volumeId), "metahuman", "memory", "episodic", "2026"), { recursive: true });
    writeFileSync(path.join(emu.folderOf(volumeId), "metahuman", "memory", "episodic", "2026", "a b+c.json"), "{}");
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: volumeId, Prefix: "metahuman/" }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(["metahuman/memory/episodic/2026/a b+c.json", "metahuman/persona/core.json"]);
    const folders = await s3.send(new ListObjectsV2Command({ Bucket: volumeId, Prefix: "metahuman/", Delimiter: "/" }));
    expect(folders.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["metahuman/memory/", "metahuman/persona/"]);
    expect(folders.Contents ?? []).toEqual([]);
  });

  it("ListObjectsV2 pages with continuation tokens", async () => {
    const s3 = emu.client("EU-RO-1");
    for (let i = 0; i < 5; i++) await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: `paging/f${i}`, Body: `x${i}` }));
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: volumeId, Prefix: "paging/", MaxKeys: 2, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(["paging/f0", "paging/f1", "paging/f2", "paging/f3", "paging/f4"]);
  });

  it("a multipart upload joins its parts in order; ListParts and ListMultipartUploads show one in progress; abort removes it", async () => {
    const s3 = emu.client("EU-RO-1");
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(1234);
    const key = "huggingface-cache/hub/models--org--m/blobs/abc";
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: volumeId, Key: key }));
    const e1 = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: key, UploadId, PartNumber: 1, Body: part1 }));
    expect(e1.ETag).toBe(`"${md5(part1)}"`);
    const inProgress = await s3.send(new ListMultipartUploadsCommand({ Bucket: volumeId, Prefix: key }));
    expect(inProgress.Uploads?.map((u) => u.UploadId)).toEqual([UploadId]);
    const listed = await s3.send(new ListPartsCommand({ Bucket: volumeId, Key: key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, `"${md5(part1)}"`, part1.length]]);
    expect(existsSync(path.join(emu.folderOf(volumeId), key))).toBe(false);
    const e2 = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: key, UploadId, PartNumber: 2, Body: part2 }));

    const wrongOrder = await failure(s3.send(new CompleteMultipartUploadCommand({
      Bucket: volumeId, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: e2.ETag }, { PartNumber: 1, ETag: e1.ETag }] },
    })));
    expect(wrongOrder.name).toBe("InvalidPartOrder");
    const done = await s3.send(new CompleteMultipartUploadCommand({
      Bucket: volumeId, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] },
    }));
    const whole = Buffer.concat([part1, part2]);
    expect(done.ETag).toBe(`"${md5(whole)}"`);
    expect(md5(readFileSync(path.join(emu.folderOf(volumeId), key)))).toBe(md5(whole));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: volumeId }))).Uploads ?? []).toEqual([]);

    const second = await s3.send(new CreateMultipartUploadCommand({ Bucket: volumeId, Key: "aborted" }));
    await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: "aborted", UploadId: second.UploadId, PartNumber: 1, Body: "x" }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: volumeId, Key: "aborted", UploadId: second.UploadId }));
    const gone = await failure(s3.send(new ListPartsCommand({ Bucket: volumeId, Key: "aborted", UploadId: second.UploadId })));
    expect(gone.name).toBe("NoSuchUpload");
  });

  it("a part smaller than 5 MiB that is not the last is accepted: RunPod does not enforce S3's minimum", async () => {
    const s3 = emu.client("EU-RO-1");
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: volumeId, Key: "small-parts" }));
    const a = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: "small-parts", UploadId, PartNumber: 1, Body: "aaa" }));
    const b = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: "small-parts", UploadId, PartNumber: 2, Body: "bbb" }));
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: volumeId, Key: "small-parts", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 2, ETag: b.ETag }] },
    }));
    expect(readFileSync(path.join(emu.folderOf(volumeId), "small-parts"), "utf8")).toBe("aaabbb");
  });

  it("DeleteObject removes the file; a missing key is NoSuchKey (NotFound on HEAD)", async () => {
    const s3 = emu.client("EU-RO-1");
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "tmp/x", Body: "x" }));
    await s3.send(new DeleteObjectCommand({ Bucket: volumeId, Key: "tmp/x" }));
    expect(existsSync(path.join(emu.folderOf(volumeId), "tmp", "x"))).toBe(false);
    expect((await failure(s3.send(new GetObjectCommand({ Bucket: volumeId, Key: "tmp/x" })))).name).toBe("NoSuchKey");
    expect((await failure(s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "tmp/x" })))).$metadata.httpStatusCode).toBe(404);
  });

  it("keys that leave the volume folder or touch the emulator's own files are refused", async () => {
    const s3 = emu.client("EU-RO-1");
    for (const key of ["../outside", "a/../../b", ".s3-uploads/x"]) {
      const err = await failure(s3.send(new PutObjectCommand({ Bucket: volumeId, Key: key, Body: "x" })));
      expect(err.$metadata.httpStatusCode, key).toBe(400);
    }
    expect(readdirSync(emu.root)).toEqual([volumeId]);
  });
});

describe("S3 API: who may call it, and where", () => {
  it("a wrong secret is SignatureDoesNotMatch, an unknown key id InvalidAccessKeyId; neither writes", async () => {
    const wrongSecret = emu.client("EU-RO-1", { ...S3_KEY, secretAccessKey: "rps_wrong" });
    const e1 = await failure(wrongSecret.send(new PutObjectCommand({ Bucket: volumeId, Key: "denied", Body: "x" })));
    expect([e1.name, e1.$metadata.httpStatusCode]).toEqual(["SignatureDoesNotMatch", 403]);
    const unknownId = emu.client("EU-RO-1", { ...S3_KEY, accessKeyId: "user_nobody" });
    const e2 = await failure(unknownId.send(new PutObjectCommand({ Bucket: volumeId, Key: "denied", Body: "x" })));
    expect([e2.name, e2.$metadata.httpStatusCode]).toEqual(["InvalidAccessKeyId", 403]);
    expect(existsSync(path.join(emu.folderOf(volumeId), "denied"))).toBe(false);
    // The secret is not echoed back.
    expect(JSON.stringify(e1) + e1.message).not.toContain("rps_wrong");
  });

  it("an unsigned request is refused", async () => {
    const res = await fetch(`${emu.s3Url}/${volumeId}/unsigned`, { method: "PUT", body: "x" });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("<Code>AccessDenied</Code>");
  });

  it("the region must be the volume's data center; an unknown volume is NoSuchBucket", async () => {
    const wrongRegion = emu.client("US-KS-2");
    const err = await failure(wrongRegion.send(new ListObjectsV2Command({ Bucket: volumeId })));
    expect(err.name).toBe("AuthorizationHeaderMalformed");
    expect(err.message).toContain("expecting 'EU-RO-1'");
    const none = await failure(emu.client("EU-RO-1").send(new ListObjectsV2Command({ Bucket: "novolume1" })));
    expect(none.name).toBe("NoSuchBucket");
  });

  it("a volume in a data center without the S3 API cannot be reached", async () => {
    const sweden = await emu.createVolume("EU-SE-1");
    const err = await failure(emu.client("EU-SE-1").send(new ListObjectsV2Command({ Bucket: sweden })));
    expect(err.name).toBe("NoSuchBucket");
    expect(err.message).toContain("EU-SE-1 has no S3 API");
  });
});

describe("S3 API: a full volume", () => {
  it("refuses a write that does not fit (507) and keeps nothing of it; the files already there stay", async () => {
    const vol = await emu.createVolume("US-KS-2");
    const s3 = emu.client("US-KS-2");
    await s3.send(new PutObjectCommand({ Bucket: vol, Key: "kept", Body: Buffer.alloc(600) }));
    expect(await emu.control("PUT", `/_emulator/s3/volumes/${vol}/capacity`, { bytes: 1000 })).toBe(204);
    const err = await failure(s3.send(new PutObjectCommand({ Bucket: vol, Key: "too-big", Body: Buffer.alloc(600) })));
    expect([err.name, err.$metadata.httpStatusCode]).toEqual(["InsufficientStorage", 507]);
    expect(readdirSync(emu.folderOf(vol)).filter((n) => !n.startsWith(".s3-"))).toEqual(["kept"]);
    expect(readdirSync(path.join(emu.folderOf(vol), ".s3-tmp"))).toEqual([]);
  });
});

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 for the AWS signer (its own checksum package is not a dependency of ours). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? nodeHash("sha256") : createHmac("sha256", toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** A PUT signed by AWS's own signer with the headers given, then sent with `body` (which may not match them). */
async function signedPut(key: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(`${emu.s3Url}/${volumeId}/${key}`);
  const signer = new SignatureV4({ service: "s3", region: "EU-RO-1", credentials: S3_KEY, sha256: Sha256, uriEscapePath: false });
  const signed = await signer.sign({
    method: "PUT", protocol: "http:", hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {},
    headers: { host: url.host, "content-length": String(Buffer.byteLength(body)), ...headers },
  });
  const res = await fetch(url, { method: "PUT", headers: signed.headers as Record<string, string>, body });
  return { status: res.status, text: await res.text() };
}

describe("S3 API: a body that is not what was declared", () => {
  const hex = (text: string) => nodeHash("sha256").update(text).digest("hex");
  const md5b64 = (text: string) => nodeHash("md5").update(text).digest("base64");

  it("is accepted when it matches its signed payload hash and MD5 (so the refusals below can be told apart)", async () => {
    const res = await signedPut("declared/ok.json", { "x-amz-content-sha256": hex("original"), "content-md5": md5b64("original") }, "original");
    expect(res.status, res.text).toBe(200);
    expect(readFileSync(path.join(emu.folderOf(volumeId), "declared", "ok.json"), "utf8")).toBe("original");
  });

  it("a body other than the signed payload hash is XAmzContentSHA256Mismatch, and nothing is written", async () => {
    const res = await signedPut("declared/tampered.json", { "x-amz-content-sha256": hex("original") }, "tampered");
    expect(res.status).toBe(400);
    expect(res.text).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
    expect(existsSync(path.join(emu.folderOf(volumeId), "declared", "tampered.json"))).toBe(false);
  });

  it("a body other than its Content-MD5 is BadDigest, and nothing is written", async () => {
    const res = await signedPut("declared/damaged.json", { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-md5": md5b64("original") }, "damaged!");
    expect(res.status).toBe(400);
    expect(res.text).toContain("<Code>BadDigest</Code>");
    expect(existsSync(path.join(emu.folderOf(volumeId), "declared", "damaged.json"))).toBe(false);
    expect(readdirSync(path.join(emu.folderOf(volumeId), ".s3-tmp"))).toEqual([]);
  });
});

describe("S3 API: the AWS SDK's default checksums", () => {
  it("a streamed upload (aws-chunked body, CRC32 in a trailer) lands byte for byte, its checksum checked", async () => {
    const { Readable } = await import("node:stream");
    const { S3Client } = await import("@aws-sdk/client-s3");
    // The SDK's defaults (checksums WHEN_SUPPORTED): a stream body goes as aws-chunked with a trailing x-amz-checksum-crc32.
    const s3 = new S3Client({ region: "EU-RO-1", endpoint: emu.s3Url, forcePathStyle: true, credentials: S3_KEY, maxAttempts: 1 });
    const seen: { sha?: string; encoding?: string }[] = [];
    s3.middlewareStack.add((next) => async (args) => {
      const headers = (args.request as { headers: Record<string, string> }).headers;
      seen.push({ sha: headers["x-amz-content-sha256"], encoding: headers["content-encoding"] });
      return next(args);
    }, { step: "finalizeRequest", priority: "low" });
    try {
      const bytes = randomBytes(300_000);
      await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "chunked/blob.bin", Body: Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]), ContentLength: bytes.length }));
      expect(readFileSync(path.join(emu.folderOf(volumeId), "chunked", "blob.bin"))).toEqual(bytes);
      expect(seen.at(-1)).toMatchObject({ encoding: expect.stringContaining("aws-chunked"), sha: expect.stringMatching(/^STREAMING-/) });
    } finally {
      s3.destroy();
    }
  });
});
