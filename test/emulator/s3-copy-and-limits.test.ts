// What RunPod's S3 API page lists, beyond plain reads and writes, driven by the AWS SDK and signed raw requests:
// CopyObject byte for byte with user metadata kept, copied or replaced; 501 NotImplemented for what it does not
// list; its limits (clock skew, names the file system refuses); listings that carry any key; the API at the root of
// a data center's own listener.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand,
  ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, PutObjectTaggingCommand,
  S3ServiceException, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startS3Emulator, type S3Emulator } from "./s3-fixture";

let emu: S3Emulator;
let volumeId: string;
let otherVolume: string;

beforeAll(async () => {
  emu = await startS3Emulator();
  volumeId = await emu.createVolume("EU-RO-1");
  otherVolume = await emu.createVolume("EU-RO-1");
});
afterAll(async () => emu?.close());

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const fileOf = (key: string) => path.join(emu.folderOf(volumeId), ...key.split("/"));

describe("CopyObject and user metadata", () => {
  it("copies byte for byte (a 12 MiB object), keeps x-amz-meta-* and returns them on HEAD and GET", async () => {
    const s3 = emu.client("EU-RO-1");
    const body = randomBytes(12 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "src/big.bin", Body: body, Metadata: { mtime: "1700000000.5", owner: "ada" }, ContentType: "application/x-test" }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "src/big.bin" }));
    expect(head.Metadata).toEqual({ mtime: "1700000000.5", owner: "ada" });
    expect(head.ContentType).toBe("application/x-test");

    const copied = await s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "dst/big-copy.bin", CopySource: `${volumeId}/src/big.bin` }));
    expect(copied.CopyObjectResult?.ETag).toBe(`"${md5(body)}"`);
    expect(md5(readFileSync(fileOf("dst/big-copy.bin")))).toBe(md5(body));
    const got = await s3.send(new GetObjectCommand({ Bucket: volumeId, Key: "dst/big-copy.bin" }));
    expect(got.Metadata).toEqual({ mtime: "1700000000.5", owner: "ada" });
    expect(md5(Buffer.from(await got.Body!.transformToByteArray()))).toBe(md5(body));
    // The source is untouched.
    expect(md5(readFileSync(fileOf("src/big.bin")))).toBe(md5(body));
  });

  it("REPLACE sets the request's metadata (onto itself too, bytes untouched); COPY onto itself is refused by name", async () => {
    const s3 = emu.client("EU-RO-1");
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "meta/a.txt", Body: "hello", Metadata: { mtime: "1" } }));
    await s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "meta/b.txt", CopySource: `/${volumeId}/meta/a.txt`, MetadataDirective: "REPLACE", Metadata: { mtime: "2" } }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "meta/b.txt" }))).Metadata).toEqual({ mtime: "2" });
    expect((await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "meta/a.txt" }))).Metadata).toEqual({ mtime: "1" });

    await s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "meta/a.txt", CopySource: `${volumeId}/meta/a.txt`, MetadataDirective: "REPLACE", Metadata: { mtime: "3" } }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "meta/a.txt" }))).Metadata).toEqual({ mtime: "3" });
    expect(readFileSync(fileOf("meta/a.txt"), "utf8")).toBe("hello");

    const self = await failure(s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "meta/a.txt", CopySource: `${volumeId}/meta/a.txt` })));
    expect([self.name, self.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
    expect(self.message).toContain("x-amz-metadata-directive");
  });

  it("a copy from a missing key is NoSuchKey, across volumes InvalidRequest, and nothing is written", async () => {
    const s3 = emu.client("EU-RO-1");
    const missing = await failure(s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "copy/none", CopySource: `${volumeId}/no/such/key` })));
    expect([missing.name, missing.$metadata.httpStatusCode]).toEqual(["NoSuchKey", 404]);
    await s3.send(new PutObjectCommand({ Bucket: otherVolume, Key: "there.txt", Body: "x" }));
    const across = await failure(s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "copy/across", CopySource: `${otherVolume}/there.txt` })));
    expect([across.name, across.$metadata.httpStatusCode]).toEqual(["InvalidRequest", 400]);
    expect(across.message).toContain(otherVolume);
    expect(existsSync(fileOf("copy"))).toBe(false);
  });

  it("metadata over 2 KB is MetadataTooLarge and writes nothing; a file changed from a pod loses its stale metadata", async () => {
    const s3 = emu.client("EU-RO-1");
    const big = await failure(s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "meta/too-much", Body: "x", Metadata: { blob: "y".repeat(2100) } })));
    expect([big.name, big.$metadata.httpStatusCode]).toEqual(["MetadataTooLarge", 400]);
    expect(existsSync(fileOf("meta/too-much"))).toBe(false);

    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "meta/pod.txt", Body: "one", Metadata: { mtime: "1" } }));
    writeFileSync(fileOf("meta/pod.txt"), "changed on the pod");
    expect((await s3.send(new HeadObjectCommand({ Bucket: volumeId, Key: "meta/pod.txt" }))).Metadata).toEqual({});
  });
});

describe("what RunPod's S3 API does not list answers 501 NotImplemented and changes nothing", () => {
  it("DeleteObjects (RunPod: planned), object tagging, UploadPartCopy, CreateBucket, pre-signed URLs", async () => {
    const s3 = emu.client("EU-RO-1");
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "keep/a", Body: "a" }));
    const batch = await failure(s3.send(new DeleteObjectsCommand({ Bucket: volumeId, Delete: { Objects: [{ Key: "keep/a" }], Quiet: true } })));
    expect([batch.name, batch.$metadata.httpStatusCode]).toEqual(["NotImplemented", 501]);
    expect(batch.message).toContain("DeleteObjects");
    expect(readFileSync(fileOf("keep/a"), "utf8")).toBe("a");

    const tagging = await failure(s3.send(new PutObjectTaggingCommand({ Bucket: volumeId, Key: "keep/a", Tagging: { TagSet: [{ Key: "k", Value: "v" }] } })));
    expect([tagging.name, tagging.$metadata.httpStatusCode]).toEqual(["NotImplemented", 501]);

    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: volumeId, Key: "keep/partcopy" }));
    const partCopy = await emu.signed("PUT", `${emu.s3Url}/${volumeId}/keep/partcopy?partNumber=1&uploadId=${UploadId}`, { headers: { "x-amz-copy-source": `/${volumeId}/keep/a` } });
    expect(partCopy.status).toBe(501);
    expect(partCopy.text).toContain("<Code>NotImplemented</Code>");
    expect(partCopy.text).toContain("UploadPartCopy");

    const create = await emu.signed("PUT", `${emu.s3Url}/newbucket`);
    expect([create.status, /<Code>(\w+)<\/Code>/.exec(create.text)?.[1]]).toEqual([501, "NotImplemented"]);

    const presigned = await fetch(`${emu.s3Url}/${volumeId}/keep/a?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00`);
    expect(presigned.status).toBe(501);
    expect(await presigned.text()).toContain("Pre-signed URLs");
  });
});

describe("RunPod's limits and names the file system refuses", () => {
  it("a signature dated more than an hour away is RequestTimeTooSkewed; 50 minutes is accepted", async () => {
    const url = `${emu.s3Url}/${volumeId}?list-type=2`;
    const late = await emu.signed("GET", url, { signingDate: new Date(Date.now() - 61 * 60 * 1000) });
    expect(late.status).toBe(403);
    expect(late.text).toContain("<Code>RequestTimeTooSkewed</Code>");
    const ahead = await emu.signed("GET", url, { signingDate: new Date(Date.now() + 61 * 60 * 1000) });
    expect(ahead.status).toBe(403);
    const ok = await emu.signed("GET", url, { signingDate: new Date(Date.now() - 50 * 60 * 1000) });
    expect(ok.status, ok.text).toBe(200);
  });

  it("a 300-character name is KeyTooLongError and a key under a file is KeyConflict, each named, never a 500", async () => {
    const s3 = emu.client("EU-RO-1");
    const long = await failure(s3.send(new PutObjectCommand({ Bucket: volumeId, Key: `names/${"n".repeat(300)}`, Body: "x" })));
    expect([long.name, long.$metadata.httpStatusCode]).toEqual(["KeyTooLongError", 400]);
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "names/file", Body: "x" }));
    const under = await failure(s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "names/file/child", Body: "y" })));
    expect([under.name, under.$metadata.httpStatusCode]).toEqual(["KeyConflict", 409]);
    expect(under.message).toContain("names/file/child");
    expect(readFileSync(fileOf("names/file"), "utf8")).toBe("x");
    const copyUnder = await failure(s3.send(new CopyObjectCommand({ Bucket: volumeId, Key: "names/file/copy", CopySource: `${volumeId}/names/file` })));
    expect(copyUnder.name).toBe("KeyConflict");
  });

  it("CompleteMultipartUpload reads ETags written with numeric references (Go's encoder) and refuses a wrong one", async () => {
    const s3 = emu.client("EU-RO-1");
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: volumeId, Key: "mp/go.bin" }));
    const one = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: "mp/go.bin", UploadId, PartNumber: 1, Body: "first-" }));
    const two = await s3.send(new UploadPartCommand({ Bucket: volumeId, Key: "mp/go.bin", UploadId, PartNumber: 2, Body: "second" }));
    const ref = (etag: string) => etag.replace(/"/g, "&#34;");
    const url = `${emu.s3Url}/${volumeId}/mp/go.bin?uploadId=${UploadId}`;
    const wrong = await emu.signed("POST", url, { body: `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&#34;0000&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>` });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain("<Code>InvalidPart</Code>");
    const missing = await emu.signed("POST", url, { body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>` });
    expect(missing.text).toContain("<Code>MalformedXML</Code>");
    expect(existsSync(fileOf("mp/go.bin"))).toBe(false);
    const body = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>${ref(one.ETag!)}</ETag><PartNumber>1</PartNumber></Part><Part><ETag><![CDATA[${two.ETag!}]]></ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`;
    const done = await emu.signed("POST", url, { body });
    expect(done.status, done.text).toBe(200);
    expect(readFileSync(fileOf("mp/go.bin"), "utf8")).toBe("first-second");
  });
});

describe("listings", () => {
  it("a key holding \\r and control characters comes back whole with encoding-type=url, and escaped without", async () => {
    const dir = path.join(emu.folderOf(volumeId), "odd");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "a\rb\u0001c"), "x");
    const s3 = emu.client("EU-RO-1");
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: volumeId, Prefix: "odd/", EncodingType: "url" }));
    expect(listed.Contents?.map((c) => decodeURIComponent(c.Key!))).toEqual(["odd/a\rb\u0001c"]);
    const raw = await emu.signed("GET", `${emu.s3Url}/${volumeId}?list-type=2&prefix=odd%2F`);
    expect(raw.text).toContain("<Key>odd/a&#xD;b&#x1;c</Key>");
  });

  it("ListObjects (v1) pages past 1,000 keys with markers; ListObjectsV2 with tokens; no key twice, none lost", async () => {
    const dir = path.join(emu.folderOf(volumeId), "many");
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 1203; i += 1) writeFileSync(path.join(dir, `k${String(i).padStart(4, "0")}`), "");
    const s3 = emu.client("EU-RO-1");
    const v1: string[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 5; page += 1) {
      const res = await s3.send(new ListObjectsCommand({ Bucket: volumeId, Prefix: "many/", ...(marker ? { Marker: marker } : {}) }));
      v1.push(...(res.Contents ?? []).map((c) => c.Key!));
      if (!res.IsTruncated) break;
      marker = res.NextMarker ?? v1[v1.length - 1];
    }
    expect(v1).toHaveLength(1203);
    expect(new Set(v1).size).toBe(1203);
  });

  it("the API at the root of a data center's own listener: ListBuckets shows that data center's volumes; another region is refused", async () => {
    const listener = await emu.listener("EU-RO-1");
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const s3 = emu.client("EU-RO-1", undefined, listener.url);
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name).sort()).toEqual([volumeId, otherVolume].sort());
    await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "root/x.txt", Body: "at the root" }));
    expect(readFileSync(fileOf("root/x.txt"), "utf8")).toBe("at the root");
    const wrong = await failure(emu.client("US-KS-2", undefined, listener.url).send(new ListObjectsV2Command({ Bucket: volumeId })));
    expect(wrong.name).toBe("AuthorizationHeaderMalformed");
  });
});
