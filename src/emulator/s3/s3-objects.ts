// Object reads and writes of the S3 API: GetObject/HeadObject (ranges), PutObject (the body checked against what
// the client declared), CopyObject (`x-amz-copy-source`, byte for byte, metadata copied or replaced as
// `x-amz-metadata-directive` says) and the user metadata (`x-amz-meta-*`) they keep.
import { createReadStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { crc32 } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AwsChunkedDecoder } from "./aws-chunked";
import { S3Error, type ObjectInfo, type ObjectMeta, type VolumeStore } from "./volume-store";
import { xmlDocument, type XmlNode } from "./xml";

const MIB = 1024 * 1024;
/** RunPod: a single PutObject, and a single part of a multipart upload, is at most 500 MB. */
export const MAX_SINGLE_UPLOAD = 500 * 1000 * 1000;
/** S3: the user-defined metadata of an object (names and values, in bytes) is at most 2 KB. */
export const MAX_USER_METADATA_BYTES = 2 * 1024;

export interface Ctx {
  request: FastifyRequest;
  reply: FastifyReply;
  store: VolumeStore;
  key: string;
  query: URLSearchParams;
  payloadHash: string;
  volumeId: string;
  requestId: string;
}

export function xml(reply: FastifyReply, root: string, body: XmlNode): FastifyReply {
  return reply.header("content-type", "application/xml").send(xmlDocument(root, body));
}

export function readText(raw: IncomingMessage): Promise<string> {
  return (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of raw) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  })();
}

/** The request's `x-amz-meta-*` headers and content type; metadata over S3's 2 KB limit is refused by name. */
export function requestMeta(request: FastifyRequest): ObjectMeta {
  const user: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith("x-amz-meta-") || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(",") : value;
    const short = name.slice("x-amz-meta-".length);
    user[short] = text;
    bytes += Buffer.byteLength(short) + Buffer.byteLength(text);
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error(400, "MetadataTooLarge", `Your metadata headers (x-amz-meta-*) come to ${bytes} bytes; at most ${MAX_USER_METADATA_BYTES} bytes are allowed.`);
  }
  const contentType = request.headers["content-type"];
  return { user, ...(typeof contentType === "string" && contentType !== "" ? { contentType } : {}) };
}

function objectHeaders(reply: FastifyReply, info: ObjectInfo, meta: ObjectMeta): void {
  reply.header("etag", `"${info.etag}"`).header("last-modified", info.lastModified.toUTCString())
    .header("accept-ranges", "bytes").header("content-type", meta.contentType ?? "application/octet-stream");
  for (const [name, value] of Object.entries(meta.user)) reply.header(`x-amz-meta-${name}`, value);
}

export async function getObject(ctx: Ctx, headOnly: boolean): Promise<unknown> {
  const { reply, store, key } = ctx;
  const info = await store.head(key);
  objectHeaders(reply, info, await store.meta(key));
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(ctx.request.headers.range ?? ""));
  if (range && (range[1] !== "" || range[2] !== "")) {
    const start = range[1] === "" ? Math.max(0, info.size - Number(range[2])) : Number(range[1]);
    const end = range[1] === "" || range[2] === "" ? info.size - 1 : Math.min(Number(range[2]), info.size - 1);
    if (start > end || start >= info.size) throw new S3Error(416, "InvalidRange", `The requested range ${String(ctx.request.headers.range)} is not satisfiable for an object of ${info.size} bytes`);
    reply.code(206).header("content-range", `bytes ${start}-${end}/${info.size}`).header("content-length", String(end - start + 1));
    return headOnly ? reply.send() : reply.send(store.read(key, { start, end }));
  }
  reply.header("content-length", String(info.size));
  return headOnly ? reply.send() : reply.send(store.read(key));
}

/** `x-amz-copy-source: /bucket/key` (or `bucket/key`, percent-encoded); a version other than `null` is refused. */
function copySource(header: string): { bucket: string; key: string } {
  const [pathPart, query = ""] = header.split("?") as [string, string?];
  const version = new URLSearchParams(query).get("versionId");
  if (version !== null && version !== "null") {
    throw new S3Error(501, "NotImplemented", `x-amz-copy-source names version ${JSON.stringify(version)}; network volumes keep no versions`);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart).replace(/^\//, "");
  } catch {
    throw new S3Error(400, "InvalidArgument", `x-amz-copy-source ${JSON.stringify(header)} is not percent-encoded correctly`);
  }
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error(400, "InvalidArgument", `x-amz-copy-source ${JSON.stringify(header)} must be /<volume id>/<key>`);
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

export async function copyObject(ctx: Ctx, header: string): Promise<unknown> {
  const source = copySource(header);
  if (source.bucket !== ctx.volumeId) {
    throw new S3Error(400, "InvalidRequest", `x-amz-copy-source names volume ${JSON.stringify(source.bucket)}; a copy must stay within volume ${ctx.volumeId} (copy across volumes by reading and writing)`);
  }
  const directive = String(ctx.request.headers["x-amz-metadata-directive"] ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw new S3Error(400, "InvalidArgument", `x-amz-metadata-directive ${JSON.stringify(directive)} is not allowed: give COPY or REPLACE`);
  }
  const given = requestMeta(ctx.request);
  if (source.key === ctx.key && directive === "COPY") {
    throw new S3Error(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata (set x-amz-metadata-directive: REPLACE).");
  }
  drainBody(ctx.request.raw);
  // A copy onto itself (REPLACE) changes only the metadata; the bytes stay where they are.
  const info = source.key === ctx.key
    ? await ctx.store.head(ctx.key).then(async (head) => (await ctx.store.replaceMeta(ctx.key, given), head))
    : await ctx.store.copy(source.key, ctx.key, directive === "REPLACE" ? given : await ctx.store.meta(source.key));
  return xml(ctx.reply, "CopyObjectResult", { LastModified: info.lastModified.toISOString(), ETag: `"${info.etag}"` });
}

function drainBody(raw: IncomingMessage): void {
  if (!raw.readableEnded) raw.resume();
}

export function declaredLength(request: FastifyRequest): number | undefined {
  const decoded = request.headers["x-amz-decoded-content-length"] ?? request.headers["content-length"];
  const n = Number(Array.isArray(decoded) ? decoded[0] : decoded);
  return Number.isFinite(n) && decoded !== undefined ? n : undefined;
}

/** The request body into a temporary file, checked against what the client declared (payload hash, MD5, trailers). */
export async function receiveBody(ctx: Ctx, dropAfter: number | undefined) {
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

export { MIB };
