// Listings of the S3 API: ListBuckets (the volumes this data center's endpoint serves), ListObjects (v1, marker
// paging, as s3cmd uses it) and ListObjectsV2 (continuation tokens), ListMultipartUploads and ListParts.
// `encoding-type=url` percent-encodes keys and prefixes, so a key holding control characters reaches the client.
import { S3Error, type ObjectInfo } from "./volume-store";
import { xml, type Ctx } from "./s3-objects";
import type { FastifyReply } from "fastify";

const MAX_KEYS = 1000;

type Entry = { kind: "object"; info: ObjectInfo } | { kind: "prefix"; prefix: string };
const sortKey = (e: Entry) => (e.kind === "object" ? e.info.key : e.prefix);

function maxKeysOf(query: URLSearchParams): number {
  const raw = query.get("max-keys");
  if (raw === null) return MAX_KEYS;
  if (!/^\d+$/.test(raw)) throw new S3Error(400, "InvalidArgument", `max-keys ${JSON.stringify(raw)} is not allowed: give a whole number from 0 to ${MAX_KEYS}`);
  return Math.min(MAX_KEYS, Number(raw));
}

function encoderOf(query: URLSearchParams): (text: string) => string {
  const type = query.get("encoding-type");
  if (type === null) return (t) => t;
  if (type !== "url") throw new S3Error(400, "InvalidArgument", `encoding-type ${JSON.stringify(type)} is not allowed: the only value is url`);
  // S3 encodes like a form: everything but unreserved characters and "/".
  return (t) => encodeURIComponent(t).replace(/%2F/g, "/").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Objects and common prefixes under `prefix`, sorted, after `after`. */
async function entries(ctx: Ctx, prefix: string, delimiter: string, after: string): Promise<Entry[]> {
  const found: Entry[] = [];
  const seen = new Set<string>();
  for (const info of await ctx.store.list(prefix)) {
    const rest = info.key.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    if (cut !== -1) {
      const common = prefix + rest.slice(0, cut + delimiter.length);
      if (!seen.has(common)) {
        seen.add(common);
        found.push({ kind: "prefix", prefix: common });
      }
    } else found.push({ kind: "object", info });
  }
  return found.filter((e) => sortKey(e) > after).sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
}

function contents(page: Entry[], encode: (t: string) => string) {
  return {
    Contents: page.flatMap((e) => (e.kind === "object"
      ? [{ Key: encode(e.info.key), LastModified: e.info.lastModified.toISOString(), ETag: `"${e.info.etag}"`, Size: e.info.size, StorageClass: "STANDARD" }]
      : [])),
    CommonPrefixes: page.flatMap((e) => (e.kind === "prefix" ? [{ Prefix: encode(e.prefix) }] : [])),
  };
}

export async function listObjects(ctx: Ctx): Promise<unknown> {
  const { query } = ctx;
  const v2 = query.get("list-type") === "2";
  if (query.has("list-type") && !v2) throw new S3Error(400, "InvalidArgument", `list-type ${JSON.stringify(query.get("list-type"))} is not allowed: give 2 (ListObjectsV2) or leave it out (ListObjects)`);
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeys = maxKeysOf(query);
  const encode = encoderOf(query);
  const encoding = query.get("encoding-type") === "url" ? { EncodingType: "url" } : {};
  if (!v2) {
    const marker = query.get("marker") ?? "";
    const remaining = await entries(ctx, prefix, delimiter, marker);
    const page = remaining.slice(0, maxKeys);
    const truncated = remaining.length > page.length;
    return xml(ctx.reply, "ListBucketResult", {
      Name: ctx.volumeId, Prefix: encode(prefix), Marker: encode(marker),
      ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
      MaxKeys: maxKeys, ...encoding, IsTruncated: truncated,
      // S3 sends NextMarker only with a delimiter; without one a client takes the last key. Sent always: harmless.
      ...(truncated ? { NextMarker: encode(sortKey(page[page.length - 1]!)) } : {}),
      ...contents(page, encode),
    });
  }
  const token = query.get("continuation-token");
  let after = query.get("start-after") ?? "";
  if (token !== null) {
    after = Buffer.from(token, "base64url").toString("utf8");
    if (token === "" || Buffer.from(after, "utf8").toString("base64url") !== token) {
      throw new S3Error(400, "InvalidArgument", `continuation-token ${JSON.stringify(token.slice(0, 80))} is not one this endpoint gave out`);
    }
  }
  const remaining = await entries(ctx, prefix, delimiter, after);
  const page = remaining.slice(0, maxKeys);
  const truncated = remaining.length > page.length;
  return xml(ctx.reply, "ListBucketResult", {
    Name: ctx.volumeId, Prefix: encode(prefix),
    ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys, ...encoding, KeyCount: page.length, IsTruncated: truncated,
    ...(token !== null ? { ContinuationToken: token } : {}),
    ...(query.has("start-after") ? { StartAfter: encode(query.get("start-after")!) } : {}),
    ...(truncated ? { NextContinuationToken: Buffer.from(sortKey(page[page.length - 1]!), "utf8").toString("base64url") } : {}),
    ...contents(page, encode),
  });
}

export async function listUploads(ctx: Ctx): Promise<unknown> {
  const prefix = ctx.query.get("prefix") ?? "";
  const uploads = await ctx.store.uploads(prefix);
  return xml(ctx.reply, "ListMultipartUploadsResult", {
    Bucket: ctx.volumeId, Prefix: prefix, MaxUploads: 1000, IsTruncated: false,
    Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiated: u.initiated.toISOString(), StorageClass: "STANDARD" })),
  });
}

export async function listParts(ctx: Ctx, uploadId: string): Promise<unknown> {
  const parts = await ctx.store.parts((await ctx.store.upload(uploadId, ctx.key)).uploadId);
  return xml(ctx.reply, "ListPartsResult", {
    Bucket: ctx.volumeId, Key: ctx.key, UploadId: uploadId, IsTruncated: false, MaxParts: 10000,
    Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified.toISOString(), ETag: `"${p.etag}"`, Size: p.size })),
  });
}

/** ListBuckets: the volumes this endpoint serves (its data center's), each a bucket named by its id. */
export function listBuckets(reply: FastifyReply, accessKeyId: string, volumes: { id: string; createdAt?: string }[]): FastifyReply {
  return xml(reply, "ListAllMyBucketsResult", {
    Owner: { ID: accessKeyId, DisplayName: accessKeyId },
    Buckets: { Bucket: volumes.map((v) => ({ Name: v.id, CreationDate: v.createdAt ?? new Date(0).toISOString() })) },
  });
}
