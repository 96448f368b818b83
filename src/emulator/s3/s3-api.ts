// RunPod's S3-compatible API for network volumes, the subset the volume tool and the AWS CLI use, over the local
// volume folders, path-style under /s3 (`--endpoint-url http://127.0.0.1:PORT/s3`; RunPod has one host per data
// center, https://s3api-<dc>.runpod.io/). The bucket is a network volume's id; the region of the signature must be
// the volume's data center, which must be one of those RunPod offers the API in.
//   GET    /s3/{volumeId}?list-type=2&prefix&delimiter&continuation-token&start-after&max-keys   ListObjectsV2
//   GET    /s3/{volumeId}?uploads&prefix                                                        ListMultipartUploads
//   HEAD   /s3/{volumeId}                                                                       HeadBucket
//   HEAD|GET /s3/{volumeId}/{key} (Range: bytes=a-b)                                            HeadObject, GetObject
//   PUT    /s3/{volumeId}/{key}                                                                 PutObject
//   POST   /s3/{volumeId}/{key}?uploads                                                         CreateMultipartUpload
//   PUT    /s3/{volumeId}/{key}?partNumber&uploadId                                             UploadPart
//   GET    /s3/{volumeId}/{key}?uploadId                                                        ListParts
//   POST   /s3/{volumeId}/{key}?uploadId                                                        CompleteMultipartUpload
//   DELETE /s3/{volumeId}/{key}[?uploadId]                                                      DeleteObject, AbortMultipartUpload
//   POST   /s3/{volumeId}?delete                                                                DeleteObjects
// Every request is signed (SigV4) with one of the local S3 keys. Test controls under /_emulator/s3/: a volume's
// capacity in bytes (a full volume answers 507 InsufficientStorage and keeps nothing of the refused body), and
// faults that drop the connection after part of an upload's body arrived.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { crc32 } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { hasS3Api } from "../../runpod/s3-endpoints";
import { AwsChunkedDecoder } from "./aws-chunked";
import { verifySigV4, type S3Credentials } from "./sigv4";
import { S3Error, VolumeStore, type ObjectInfo } from "./volume-store";
import { errorDocument, parseCompleteMultipartUpload, parseDeleteObjects, xmlDocument } from "./xml";

export const S3_PATH_PREFIX = "/s3";
const MIB = 1024 * 1024;

export interface S3ApiOptions {
  /** The S3 API keys the emulator accepts (RunPod: access key id `user_…`, secret `rps_…`). */
  keys: S3Credentials[];
  /** The folder that holds a volume's files (created on first write). */
  volumeFolder(volumeId: string): string;
  /** A volume's data center and size in GB, or undefined when no such volume exists. */
  volume(volumeId: string): { dataCenter: string; sizeGb: number } | undefined;
  /** Smallest part but the last of a multipart upload (S3: 5 MiB). */
  minPartSize?: number;
}

interface DropRule { pathPattern: RegExp; queryPattern: RegExp; afterBytes: number; skip: number; remaining: number }

const dropRuleSchema = z.object({
  /** Matched against the request path (with the /s3 prefix, without the query). */
  pathPattern: z.string().default("."),
  /** Matched against the query string (e.g. "partNumber=3&"). */
  queryPattern: z.string().default(""),
  /** Matching uploads to let through before the first drop. */
  skip: z.number().int().min(0).default(0),
  /** Bytes of the body to take in before the connection is dropped. */
  afterBytes: z.number().int().min(0),
  times: z.number().int().min(1).default(1),
}).strict();

export async function s3ApiPlugin(app: FastifyInstance, options: S3ApiOptions): Promise<void> {
  const secrets = new Map(options.keys.map((k) => [k.accessKeyId, k.secretAccessKey]));
  const minPartSize = options.minPartSize ?? 5 * MIB;
  const stores = new Map<string, VolumeStore>();
  const capacity = new Map<string, number>();
  const drops: DropRule[] = [];
  const storeOf = (volumeId: string) => {
    let store = stores.get(volumeId);
    if (store === undefined) stores.set(volumeId, (store = new VolumeStore(options.volumeFolder(volumeId))));
    return store;
  };

  app.put<{ Params: { id: string }; Body: { bytes: number | null } }>("/_emulator/s3/volumes/:id/capacity", async (request, reply) => {
    const bytes = request.body?.bytes;
    if (bytes === null) capacity.delete(request.params.id);
    else if (typeof bytes === "number" && bytes >= 0) capacity.set(request.params.id, bytes);
    else return reply.code(422).send({ error: "body must be {bytes: number | null}" });
    return reply.code(204).send();
  });
  app.post("/_emulator/s3/drops", async (request, reply) => {
    const parsed = dropRuleSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(422).send({ error: parsed.error.issues.map((i) => i.message).join("; ") });
    drops.push({ pathPattern: new RegExp(parsed.data.pathPattern), queryPattern: new RegExp(parsed.data.queryPattern), afterBytes: parsed.data.afterBytes, skip: parsed.data.skip, remaining: parsed.data.times });
    return reply.code(201).send({});
  });
  app.delete("/_emulator/s3/drops", async (_request, reply) => {
    drops.length = 0;
    return reply.code(204).send();
  });

  await app.register(async (s3) => {
    // Bodies are objects' bytes, whatever their content type: handlers stream them from the raw request.
    s3.removeAllContentTypeParsers();
    s3.addContentTypeParser("*", (_request, _payload, done) => done(null));

    s3.route({
      method: ["GET", "HEAD", "PUT", "POST", "DELETE"],
      url: `${S3_PATH_PREFIX}/*`,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const requestId = randomBytes(8).toString("hex").toUpperCase();
        reply.header("x-amz-request-id", requestId);
        const { bucket, key, query } = parseTarget(request.url);
        try {
          const auth = verifySigV4({ method: request.method, url: request.url, headers: request.headers }, (id) => secrets.get(id));
          if (!auth.ok) throw new S3Error(auth.status, auth.code, auth.message);
          const volume = bucket === "" ? undefined : options.volume(bucket);
          if (volume === undefined) throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist.");
          if (!hasS3Api(volume.dataCenter)) throw new S3Error(404, "NoSuchBucket", `The specified bucket does not exist (data center ${volume.dataCenter} has no S3 API).`);
          if (auth.region.toUpperCase() !== volume.dataCenter) {
            throw new S3Error(400, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${volume.dataCenter}'`);
          }
          const store = storeOf(bucket);
          const ctx: Ctx = { request, reply, store, key, query, payloadHash: auth.payloadHash, volumeId: bucket, requestId };
          const limit = capacity.get(bucket) ?? volume.sizeGb * 1024 ** 3;
          return await dispatch(ctx, { minPartSize, capacity: limit, drop: request.method === "PUT" ? takeDrop(drops, request.url) : undefined });
        } catch (err) {
          if (!(err instanceof S3Error)) request.log.error(err);
          const e = err instanceof S3Error ? err : new S3Error(500, "InternalError", "We encountered an internal error. Please try again.");
          drain(request.raw);
          reply.code(e.status).header("content-type", "application/xml");
          if (request.method === "HEAD") return reply.send();
          return reply.send(errorDocument(e.code, e.message, `/${bucket}${key ? `/${key}` : ""}`, requestId));
        }
      },
    });
  });
}

interface Ctx {
  request: FastifyRequest;
  reply: FastifyReply;
  store: VolumeStore;
  key: string;
  query: URLSearchParams;
  payloadHash: string;
  volumeId: string;
  requestId: string;
}

function parseTarget(url: string): { bucket: string; key: string; query: URLSearchParams } {
  const q = url.indexOf("?");
  const path = (q === -1 ? url : url.slice(0, q)).slice(S3_PATH_PREFIX.length + 1);
  const slash = path.indexOf("/");
  const bucket = decodeURIComponent(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 ? "" : decodeURIComponent(path.slice(slash + 1));
  return { bucket, key, query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)) };
}

function takeDrop(drops: DropRule[], url: string): number | undefined {
  const [path, query = ""] = url.split("?") as [string, string?];
  const rule = drops.find((d) => d.remaining > 0 && d.pathPattern.test(path) && d.queryPattern.test(query));
  if (rule === undefined) return undefined;
  if (rule.skip > 0) {
    rule.skip -= 1;
    return undefined;
  }
  rule.remaining -= 1;
  return rule.afterBytes;
}

function drain(raw: IncomingMessage): void {
  if (!raw.readableEnded) raw.resume();
}

async function dispatch(ctx: Ctx, limits: { minPartSize: number; capacity: number; drop: number | undefined }): Promise<unknown> {
  const { request, reply, store, key, query } = ctx;
  const method = request.method;
  if (key === "") {
    if (method === "HEAD") return reply.code(200).send();
    if (method === "GET" && query.has("uploads")) return listUploads(ctx);
    if (method === "GET") return listObjects(ctx);
    if (method === "POST" && query.has("delete")) return deleteObjects(ctx);
    throw new S3Error(405, "MethodNotAllowed", `${method} on a bucket is not supported by this S3 API`);
  }
  if (method === "HEAD" || (method === "GET" && !query.has("uploadId"))) return getObject(ctx, method === "HEAD");
  if (method === "GET") {
    const parts = await store.parts((await store.upload(query.get("uploadId")!, key)).uploadId);
    return xml(reply, "ListPartsResult", {
      Bucket: ctx.volumeId, Key: key, UploadId: query.get("uploadId")!, IsTruncated: false, MaxParts: 10000,
      Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified.toISOString(), ETag: `"${p.etag}"`, Size: p.size })),
    });
  }
  if (method === "POST" && query.has("uploads")) {
    const uploadId = await store.createUpload(key);
    return xml(reply, "InitiateMultipartUploadResult", { Bucket: ctx.volumeId, Key: key, UploadId: uploadId });
  }
  if (method === "POST" && query.has("uploadId")) {
    const chosen = parseCompleteMultipartUpload(await readText(request.raw));
    if (chosen === undefined) throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
    const info = await store.completeUpload(query.get("uploadId")!, chosen, limits.minPartSize);
    return xml(reply, "CompleteMultipartUploadResult", { Location: `/${ctx.volumeId}/${key}`, Bucket: ctx.volumeId, Key: key, ETag: `"${info.etag}"` });
  }
  if (method === "PUT") {
    const uploadId = query.get("uploadId");
    const partNumber = query.get("partNumber");
    if (uploadId !== null) await store.upload(uploadId, key);
    if (uploadId !== null && (partNumber === null || !/^\d+$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10000)) {
      throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.");
    }
    const incoming = declaredLength(request);
    if (incoming !== undefined && (await store.usedBytes()) + incoming > limits.capacity) {
      throw new S3Error(507, "InsufficientStorage", `The network volume is full: ${incoming} more bytes do not fit in its ${limits.capacity} bytes.`);
    }
    if (key.endsWith("/") && incoming === 0) {
      await store.putEmpty(key);
      return reply.header("etag", '"d41d8cd98f00b204e9800998ecf8427e"').send();
    }
    const { written, tmp } = await receiveBody(ctx, limits.drop);
    try {
      if ((await store.usedBytes()) > limits.capacity) {
        throw new S3Error(507, "InsufficientStorage", `The network volume is full: ${written.size} more bytes do not fit in its ${limits.capacity} bytes.`);
      }
      if (uploadId !== null) {
        await store.storePart(uploadId, Number(partNumber), tmp);
        return reply.header("etag", `"${written.md5}"`).send();
      }
      const info = await store.commit(tmp, key);
      return reply.header("etag", `"${info.etag}"`).send();
    } finally {
      await store.discard(tmp);
    }
  }
  if (method === "DELETE") {
    const uploadId = query.get("uploadId");
    if (uploadId !== null) await store.abortUpload((await store.upload(uploadId, key)).uploadId);
    else await store.delete(key);
    return reply.code(204).send();
  }
  throw new S3Error(405, "MethodNotAllowed", `${method} on an object is not supported by this S3 API`);
}

function declaredLength(request: FastifyRequest): number | undefined {
  const decoded = request.headers["x-amz-decoded-content-length"] ?? request.headers["content-length"];
  const n = Number(Array.isArray(decoded) ? decoded[0] : decoded);
  return Number.isFinite(n) && decoded !== undefined ? n : undefined;
}

/** The request body into a temporary file, checked against what the client declared (payload hash, MD5, trailers). */
async function receiveBody(ctx: Ctx, dropAfter: number | undefined) {
  const raw = ctx.request.raw;
  let body: Readable = raw;
  if (dropAfter !== undefined) {
    // An injected fault: the connection goes away after `dropAfter` bytes, as a flaky network would do it.
    const counted = new PassThrough();
    // The reader sees a premature close (the stream may be dropped before anything reads it).
    counted.on("error", () => {});
    let seen = 0;
    raw.on("data", (chunk: Buffer) => {
      if (counted.destroyed) return;
      seen += chunk.length;
      if (seen > dropAfter) {
        raw.socket.destroy();
        counted.destroy();
      } else counted.write(chunk);
    });
    raw.on("end", () => counted.end());
    body = counted;
  }
  const streaming = ctx.payloadHash.startsWith("STREAMING-");
  const decoder = streaming ? new AwsChunkedDecoder() : undefined;
  if (decoder) body = body.pipe(decoder);
  const { written, tmp } = await ctx.store.receive(body).catch((err: Error) => {
    throw new S3Error(400, "IncompleteBody", `The request body could not be read: ${err.message}`);
  });
  const fail = async (code: string, message: string) => {
    await ctx.store.discard(tmp);
    throw new S3Error(400, code, message);
  };
  if (/^[0-9a-f]{64}$/.test(ctx.payloadHash) && ctx.payloadHash !== written.sha256) {
    await fail("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const contentMd5 = ctx.request.headers["content-md5"];
  if (typeof contentMd5 === "string" && Buffer.from(contentMd5, "base64").toString("hex") !== written.md5) {
    await fail("BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
  const trailers = { ...decoder?.trailers, ...pick(ctx.request.headers, ["x-amz-checksum-sha256", "x-amz-checksum-crc32"]) };
  if (trailers["x-amz-checksum-sha256"] && Buffer.from(trailers["x-amz-checksum-sha256"], "base64").toString("hex") !== written.sha256) {
    await fail("BadDigest", "The SHA256 you specified did not match the calculated checksum.");
  }
  if (trailers["x-amz-checksum-crc32"]) {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(await crc32Of(tmp));
    if (crc.toString("base64") !== trailers["x-amz-checksum-crc32"]) await fail("BadDigest", "The CRC32 you specified did not match the calculated checksum.");
  }
  return { written, tmp };
}

function pick(headers: FastifyRequest["headers"], names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (typeof headers[n] === "string" ? [[n, headers[n] as string]] : [])));
}

async function crc32Of(file: string): Promise<number> {
  let value = 0;
  for await (const chunk of createReadStream(file)) value = crc32(chunk as Buffer, value);
  return value >>> 0;
}

async function readText(raw: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of raw) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function objectHeaders(reply: FastifyReply, info: ObjectInfo): void {
  reply.header("etag", `"${info.etag}"`).header("last-modified", info.lastModified.toUTCString())
    .header("accept-ranges", "bytes").header("content-type", "application/octet-stream");
}

async function getObject(ctx: Ctx, headOnly: boolean): Promise<unknown> {
  const { reply, store, key } = ctx;
  const info = await store.head(key);
  objectHeaders(reply, info);
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(ctx.request.headers.range ?? ""));
  if (range && (range[1] !== "" || range[2] !== "")) {
    const start = range[1] === "" ? Math.max(0, info.size - Number(range[2])) : Number(range[1]);
    const end = range[1] === "" || range[2] === "" ? info.size - 1 : Math.min(Number(range[2]), info.size - 1);
    if (start > end || start >= info.size) throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable");
    reply.code(206).header("content-range", `bytes ${start}-${end}/${info.size}`).header("content-length", String(end - start + 1));
    return headOnly ? reply.send() : reply.send(store.read(key, { start, end }));
  }
  reply.header("content-length", String(info.size));
  return headOnly ? reply.send() : reply.send(store.read(key));
}

async function listObjects(ctx: Ctx): Promise<unknown> {
  const { query, store } = ctx;
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeys = Math.min(1000, Math.max(0, Number(query.get("max-keys") ?? 1000) || 0));
  const token = query.get("continuation-token");
  const after = token ? Buffer.from(token, "base64url").toString("utf8") : (query.get("start-after") ?? "");
  const entries: ({ kind: "object"; info: ObjectInfo } | { kind: "prefix"; prefix: string })[] = [];
  const seen = new Set<string>();
  for (const info of await store.list(prefix)) {
    const rest = info.key.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    if (cut !== -1) {
      const common = prefix + rest.slice(0, cut + delimiter.length);
      if (!seen.has(common)) {
        seen.add(common);
        entries.push({ kind: "prefix", prefix: common });
      }
    } else entries.push({ kind: "object", info });
  }
  const sortKey = (e: (typeof entries)[number]) => (e.kind === "object" ? e.info.key : e.prefix);
  const remaining = entries.filter((e) => sortKey(e) > after).sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
  const page = remaining.slice(0, maxKeys);
  const truncated = remaining.length > page.length;
  return xml(ctx.reply, "ListBucketResult", {
    Name: ctx.volumeId,
    Prefix: prefix,
    ...(delimiter ? { Delimiter: delimiter } : {}),
    MaxKeys: maxKeys,
    KeyCount: page.length,
    IsTruncated: truncated,
    ...(token ? { ContinuationToken: token } : {}),
    ...(truncated ? { NextContinuationToken: Buffer.from(sortKey(page[page.length - 1]!), "utf8").toString("base64url") } : {}),
    Contents: page.flatMap((e) => (e.kind === "object"
      ? [{ Key: e.info.key, LastModified: e.info.lastModified.toISOString(), ETag: `"${e.info.etag}"`, Size: e.info.size, StorageClass: "STANDARD" }]
      : [])),
    CommonPrefixes: page.flatMap((e) => (e.kind === "prefix" ? [{ Prefix: e.prefix }] : [])),
  });
}

async function listUploads(ctx: Ctx): Promise<unknown> {
  const prefix = ctx.query.get("prefix") ?? "";
  const uploads = await ctx.store.uploads(prefix);
  return xml(ctx.reply, "ListMultipartUploadsResult", {
    Bucket: ctx.volumeId, Prefix: prefix, MaxUploads: 1000, IsTruncated: false,
    Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiated: u.initiated.toISOString(), StorageClass: "STANDARD" })),
  });
}

async function deleteObjects(ctx: Ctx): Promise<unknown> {
  const keys = parseDeleteObjects(await readText(ctx.request.raw));
  if (keys === undefined) throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const key of keys) {
    try {
      await ctx.store.delete(key);
      deleted.push({ Key: key });
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error(500, "InternalError", "internal error");
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  return xml(ctx.reply, "DeleteResult", { Deleted: deleted, Error: errors });
}

function xml(reply: FastifyReply, root: string, body: Parameters<typeof xmlDocument>[1]): FastifyReply {
  return reply.header("content-type", "application/xml").send(xmlDocument(root, body));
}
