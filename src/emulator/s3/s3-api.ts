// RunPod's S3-compatible API for network volumes (docs.runpod.io/storage/s3-api, "S3 API compatibility reference",
// as of 2026-07-27) over the local volume folders. RunPod serves it at the root of one host per data center
// (https://s3api-<dc>.runpod.io/); so does the emulator, on a listener of its own per data center
// (`startS3Listener`), and, for older callers, path-style under /s3 on its REST port. The bucket is a network
// volume's id; the region of the signature must be the volume's data center. What RunPod lists as supported works:
//   GET    /                                                                      ListBuckets
//   HEAD   /{volumeId}                                                            HeadBucket
//   GET    /{volumeId}[?list-type=2]&prefix&delimiter&marker|continuation-token&start-after&max-keys&encoding-type
//                                                                                ListObjects, ListObjectsV2
//   GET    /{volumeId}?uploads&prefix                                             ListMultipartUploads
//   HEAD|GET /{volumeId}/{key} (Range: bytes=a-b)                                 HeadObject, GetObject
//   PUT    /{volumeId}/{key} (x-amz-meta-*)                                       PutObject (at most 500 MB)
//   PUT    /{volumeId}/{key} x-amz-copy-source, x-amz-metadata-directive          CopyObject (within the volume)
//   POST   /{volumeId}/{key}?uploads                                              CreateMultipartUpload
//   PUT    /{volumeId}/{key}?partNumber&uploadId                                  UploadPart (at most 500 MB a part)
//   GET    /{volumeId}/{key}?uploadId                                             ListParts
//   POST   /{volumeId}/{key}?uploadId                                             CompleteMultipartUpload
//   DELETE /{volumeId}/{key}[?uploadId]                                           DeleteObject, AbortMultipartUpload
// What it lists as unsupported, or does not list (DeleteObjects, UploadPartCopy, ACLs, tagging, versioning,
// bucket creation and deletion, GetBucketLocation, pre-signed URLs, ...), answers 501 NotImplemented naming the
// operation, and changes nothing. Every request is signed (SigV4) with one of the local S3 keys, within an hour of
// the emulator's clock (RunPod's limit). Test controls under /_emulator/s3/ on the REST port: a volume's capacity in
// bytes (a full volume answers 507 InsufficientStorage and keeps nothing of the refused body), and faults that drop
// the connection after part of an upload's body arrived.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import { z } from "zod";
import { hasS3Api } from "../../runpod/s3-endpoints";
import { listBuckets, listObjects, listParts, listUploads } from "./s3-listing";
import {
  copyObject, declaredLength, getObject, MAX_SINGLE_UPLOAD, readText, receiveBody, requestMeta, xml, type Ctx,
} from "./s3-objects";
import { MAX_SKEW_MS, verifySigV4, type S3Credentials } from "./sigv4";
import { fsError, S3Error, VolumeStore } from "./volume-store";
import { errorDocument, parseCompleteMultipartUpload } from "./xml";

export const S3_PATH_PREFIX = "/s3";

export interface S3ApiOptions {
  /** The S3 API keys the emulator accepts (RunPod: access key id `user_…`, secret `rps_…`). */
  keys: S3Credentials[];
  /** The folder that holds a volume's files (created on first write). */
  volumeFolder(volumeId: string): string;
  /** A volume's data center and size in GB, or undefined when no such volume exists. */
  volume(volumeId: string): { dataCenter: string; sizeGb: number } | undefined;
  /** Every volume (ListBuckets). */
  volumes?(): { id: string; dataCenter: string }[];
  /** Smallest part but the last of a multipart upload (RunPod does not enforce S3's 5 MiB: 0). */
  minPartSize?: number;
  /** The clock signatures are checked against (tests move it). */
  now?(): number;
}

interface DropRule { pathPattern: RegExp; queryPattern: RegExp; afterBytes: number; skip: number; remaining: number }

const dropRuleSchema = z.object({
  /** Matched against the request path (as sent, without the query). */
  pathPattern: z.string().default("."),
  /** Matched against the query string (e.g. "partNumber=3&"). */
  queryPattern: z.string().default(""),
  /** Matching uploads to let through before the first drop. */
  skip: z.number().int().min(0).default(0),
  /** Bytes of the body to take in before the connection is dropped. */
  afterBytes: z.number().int().min(0),
  times: z.number().int().min(1).default(1),
}).strict();

// Sub-resources RunPod's S3 API does not implement, by the operation they select (for the 501's message).
const UNSUPPORTED_BUCKET: Record<string, string> = {
  acl: "bucket ACLs", policy: "bucket policies", versioning: "bucket versioning", versions: "ListObjectVersions",
  location: "GetBucketLocation", encryption: "bucket encryption", "object-lock": "object locking", tagging: "bucket tagging",
  cors: "bucket CORS", lifecycle: "bucket lifecycle", website: "bucket websites", logging: "bucket logging",
  notification: "bucket notifications", replication: "bucket replication", requestPayment: "requester pays",
  accelerate: "transfer acceleration", analytics: "bucket analytics", inventory: "bucket inventory", metrics: "bucket metrics",
  "intelligent-tiering": "intelligent tiering", ownershipControls: "ownership controls", publicAccessBlock: "public access blocks",
  policyStatus: "bucket policies", delete: "DeleteObjects (RunPod lists it as planned; delete objects one by one)",
};
const UNSUPPORTED_OBJECT: Record<string, string> = {
  acl: "object ACLs", tagging: "object tagging", retention: "object retention", "legal-hold": "legal holds",
  attributes: "GetObjectAttributes", torrent: "torrents", restore: "RestoreObject", select: "SelectObjectContent",
};

declare module "fastify" {
  interface FastifyInstance {
    /** RunPod's S3 API's state, when the emulator serves it (its own listeners are started from it). */
    s3Api?: S3Service;
  }
}

/** The S3 API's state, shared by the /s3 routes on the REST port and the listeners of each data center. */
export class S3Service {
  private readonly secrets: Map<string, string>;
  private readonly stores = new Map<string, VolumeStore>();
  readonly capacity = new Map<string, number>();
  readonly drops: DropRule[] = [];

  constructor(readonly options: S3ApiOptions) {
    this.secrets = new Map(options.keys.map((k) => [k.accessKeyId, k.secretAccessKey]));
  }

  get keys(): S3Credentials[] {
    return this.options.keys;
  }

  storeOf(volumeId: string): VolumeStore {
    let store = this.stores.get(volumeId);
    if (store === undefined) this.stores.set(volumeId, (store = new VolumeStore(this.options.volumeFolder(volumeId))));
    return store;
  }

  /** The S3 routes under `prefix` ("" at the root); `dataCenter` limits them to that data center's volumes. */
  routes(prefix: string, dataCenter?: string) {
    return async (s3: FastifyInstance): Promise<void> => {
      // Bodies are objects' bytes, whatever their content type: handlers stream them from the raw request.
      s3.removeAllContentTypeParsers();
      s3.addContentTypeParser("*", (_request, _payload, done) => done(null));
      const paths = prefix === "" ? ["/", "/*"] : [prefix, `${prefix}/`, `${prefix}/*`];
      for (const url of paths) {
        s3.route({ method: ["GET", "HEAD", "PUT", "POST", "DELETE"], url, exposeHeadRoute: false, handler: (request, reply) => this.handle(request, reply, prefix, dataCenter) });
      }
    };
  }

  private async handle(request: Ctx["request"], reply: Ctx["reply"], prefix: string, dataCenter: string | undefined): Promise<unknown> {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    reply.header("x-amz-request-id", requestId);
    let resource = request.url.split("?")[0]!.slice(prefix.length);
    try {
      const { bucket, key, query } = parseTarget(request.url, prefix);
      resource = `/${bucket}${key ? `/${key}` : ""}`;
      if (query.has("X-Amz-Signature") || query.has("X-Amz-Algorithm") || query.has("Signature")) {
        throw new S3Error(501, "NotImplemented", "Pre-signed URLs are not supported by RunPod's S3 API; sign each request with the Authorization header.");
      }
      const auth = verifySigV4({ method: request.method, url: request.url, headers: request.headers }, (id) => this.secrets.get(id), {
        now: this.options.now?.() ?? Date.now(), maxSkewMs: MAX_SKEW_MS,
      });
      if (!auth.ok) throw new S3Error(auth.status, auth.code, auth.message);
      if (dataCenter !== undefined && auth.region.toUpperCase() !== dataCenter) {
        throw new S3Error(400, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${dataCenter}'`);
      }
      if (key === "" && (request.method === "PUT" || request.method === "DELETE") && [...query.keys()].length === 0) {
        // CreateBucket of a volume that exists says so, as S3 does for a bucket one owns (rclone and others try it
        // before their first upload); anything else about buckets is RunPod's console's or REST API's to do.
        if (request.method === "PUT" && bucket !== "" && this.options.volume(bucket) !== undefined) {
          throw new S3Error(409, "BucketAlreadyOwnedByYou", `Network volume ${bucket} already exists and is yours; nothing was changed.`);
        }
        throw notImplemented(request.method === "PUT" ? "CreateBucket (create network volumes in RunPod's console or REST API)" : "DeleteBucket (delete network volumes in RunPod's console or REST API)");
      }
      if (bucket === "") {
        if (request.method !== "GET") throw new S3Error(501, "NotImplemented", `${request.method} / is not implemented by RunPod's S3 API (only ListBuckets, GET /)`);
        const region = auth.region.toUpperCase();
        const volumes = (this.options.volumes?.() ?? []).filter((v) => v.dataCenter === region && hasS3Api(v.dataCenter));
        return listBuckets(reply, auth.accessKeyId, volumes);
      }
      const volume = this.options.volume(bucket);
      if (volume === undefined) throw new S3Error(404, "NoSuchBucket", `The specified bucket does not exist: no network volume ${JSON.stringify(bucket)}.`);
      if (!hasS3Api(volume.dataCenter)) throw new S3Error(404, "NoSuchBucket", `The specified bucket does not exist (data center ${volume.dataCenter} has no S3 API).`);
      if (auth.region.toUpperCase() !== volume.dataCenter) {
        throw new S3Error(400, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${volume.dataCenter}'`);
      }
      const ctx: Ctx = { request, reply, store: this.storeOf(bucket), key, query, payloadHash: auth.payloadHash, volumeId: bucket, requestId };
      const limit = this.capacity.get(bucket) ?? volume.sizeGb * 1024 ** 3;
      return await dispatch(ctx, { minPartSize: this.options.minPartSize ?? 0, capacity: limit, drop: request.method === "PUT" ? takeDrop(this.drops, request.url) : undefined });
    } catch (caught) {
      const err = caught instanceof S3Error ? caught : fsError(caught, resource);
      if (!(err instanceof S3Error)) request.log.error(err);
      const e = err instanceof S3Error ? err : new S3Error(500, "InternalError", "We encountered an internal error. Please try again.");
      drain(request.raw);
      reply.code(e.status).header("content-type", "application/xml");
      if (request.method === "HEAD") return reply.send();
      return reply.send(errorDocument(e.code, e.message, resource, requestId));
    }
  }

  /** The test controls on the REST port: capacity and dropped connections. */
  async controls(app: FastifyInstance): Promise<void> {
    app.put<{ Params: { id: string }; Body: { bytes: number | null } }>("/_emulator/s3/volumes/:id/capacity", async (request, reply) => {
      const bytes = request.body?.bytes;
      if (bytes === null) this.capacity.delete(request.params.id);
      else if (typeof bytes === "number" && bytes >= 0) this.capacity.set(request.params.id, bytes);
      else return reply.code(422).send({ error: "body must be {bytes: number | null}" });
      return reply.code(204).send();
    });
    app.post("/_emulator/s3/drops", async (request, reply) => {
      const parsed = dropRuleSchema.safeParse(request.body ?? {});
      if (!parsed.success) return reply.code(422).send({ error: parsed.error.issues.map((i) => i.message).join("; ") });
      this.drops.push({ pathPattern: new RegExp(parsed.data.pathPattern), queryPattern: new RegExp(parsed.data.queryPattern), afterBytes: parsed.data.afterBytes, skip: parsed.data.skip, remaining: parsed.data.times });
      return reply.code(201).send({});
    });
    app.delete("/_emulator/s3/drops", async (_request, reply) => {
      this.drops.length = 0;
      return reply.code(204).send();
    });
  }
}

/**
 * The S3 API on the emulator's REST port under /s3, with its test controls; `app.s3Api` (decorated on the app
 * itself, so called directly, not registered as an encapsulated plugin) starts the data centers' listeners.
 */
export async function registerS3Api(app: FastifyInstance, options: S3ApiOptions): Promise<void> {
  const service = new S3Service(options);
  app.decorate("s3Api", service);
  await service.controls(app);
  await app.register(service.routes(S3_PATH_PREFIX));
}

export interface S3Listener {
  dataCenter: string;
  /** `http://127.0.0.1:PORT/`: the endpoint URL (`--endpoint-url`), as `https://s3api-<dc>.runpod.io/` is on RunPod. */
  url: string;
  close(): Promise<void>;
}

/** One data center's S3 endpoint: the S3 API at the root of a listener of its own, over the emulator's volumes. */
export async function startS3Listener(service: S3Service, dataCenter: string, options: { host?: string; port?: number; logger?: boolean } = {}): Promise<S3Listener> {
  const dc = dataCenter.toUpperCase();
  if (!hasS3Api(dc)) throw new Error(`data center ${dataCenter} has no S3 API on RunPod`);
  const app = Fastify({ logger: options.logger ?? false });
  await app.register(service.routes("", dc));
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("the S3 listener has no TCP address");
  return {
    dataCenter: dc,
    url: `http://${host}:${address.port}/`,
    async close() {
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    },
  };
}

function parseTarget(url: string, prefix: string): { bucket: string; key: string; query: URLSearchParams } {
  const q = url.indexOf("?");
  const path = (q === -1 ? url : url.slice(0, q)).slice(prefix.length).replace(/^\//, "");
  const slash = path.indexOf("/");
  try {
    const bucket = decodeURIComponent(slash === -1 ? path : path.slice(0, slash));
    const key = slash === -1 ? "" : decodeURIComponent(path.slice(slash + 1));
    return { bucket, key, query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)) };
  } catch {
    throw new S3Error(400, "InvalidURI", `The request path ${JSON.stringify(path.slice(0, 120))} is not percent-encoded correctly.`);
  }
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

function unsupported(query: URLSearchParams, table: Record<string, string>): string | undefined {
  for (const name of query.keys()) if (Object.hasOwn(table, name)) return table[name];
  return undefined;
}

function notImplemented(what: string): S3Error {
  return new S3Error(501, "NotImplemented", `${what} is not implemented by RunPod's S3 API (docs.runpod.io/storage/s3-api); nothing was changed.`);
}

async function dispatch(ctx: Ctx, limits: { minPartSize: number; capacity: number; drop: number | undefined }): Promise<unknown> {
  const { request, reply, store, key, query } = ctx;
  const method = request.method;
  if (key === "") {
    const what = unsupported(query, UNSUPPORTED_BUCKET);
    if (what !== undefined) throw notImplemented(what);
    if (method === "HEAD") return reply.code(200).send();
    if (method === "GET" && query.has("uploads")) return listUploads(ctx);
    if (method === "GET") return listObjects(ctx);
    throw notImplemented(method === "PUT" ? "CreateBucket (create network volumes in RunPod's console or REST API)" : method === "DELETE" ? "DeleteBucket" : `${method} on a bucket`);
  }
  const what = unsupported(query, UNSUPPORTED_OBJECT);
  if (what !== undefined) throw notImplemented(what);
  const copySource = request.headers["x-amz-copy-source"];
  if (method === "HEAD" || (method === "GET" && !query.has("uploadId"))) return getObject(ctx, method === "HEAD");
  if (method === "GET") return listParts(ctx, query.get("uploadId")!);
  if (method === "POST" && query.has("uploads")) {
    const uploadId = await store.createUpload(key, requestMeta(request));
    return xml(reply, "InitiateMultipartUploadResult", { Bucket: ctx.volumeId, Key: key, UploadId: uploadId });
  }
  if (method === "POST" && query.has("uploadId")) {
    const chosen = parseCompleteMultipartUpload(await readText(request.raw));
    if (chosen === undefined) throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema (CompleteMultipartUpload with Part/PartNumber and Part/ETag).");
    const info = await store.completeUpload(query.get("uploadId")!, chosen, limits.minPartSize);
    return xml(reply, "CompleteMultipartUploadResult", { Location: `/${ctx.volumeId}/${key}`, Bucket: ctx.volumeId, Key: key, ETag: `"${info.etag}"` });
  }
  if (method === "PUT" && typeof copySource === "string") {
    if (query.has("uploadId") || query.has("partNumber")) throw notImplemented("UploadPartCopy");
    return copyObject(ctx, copySource);
  }
  if (method === "PUT") return putObject(ctx, limits);
  if (method === "DELETE") {
    const uploadId = query.get("uploadId");
    if (uploadId !== null) await store.abortUpload((await store.upload(uploadId, key)).uploadId);
    else await store.delete(key);
    return reply.code(204).send();
  }
  throw notImplemented(`${method} on an object`);
}

async function putObject(ctx: Ctx, limits: { capacity: number; drop: number | undefined }): Promise<unknown> {
  const { request, reply, store, key, query } = ctx;
  const uploadId = query.get("uploadId");
  const partNumber = query.get("partNumber");
  if (uploadId !== null) await store.upload(uploadId, key);
  if (uploadId !== null && (partNumber === null || !/^\d+$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10000)) {
    throw new S3Error(400, "InvalidArgument", `Part number ${JSON.stringify(partNumber)} is not allowed: give an integer between 1 and 10000, inclusive.`);
  }
  const meta = uploadId === null ? requestMeta(request) : { user: {} };
  const incoming = declaredLength(request);
  if (incoming !== undefined && incoming > MAX_SINGLE_UPLOAD) {
    throw new S3Error(400, "EntityTooLarge", `${uploadId === null ? "A single PutObject" : "A part"} of ${incoming} bytes is over RunPod's limit of ${MAX_SINGLE_UPLOAD} bytes (500 MB); upload larger files in parts.`);
  }
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
    const info = await store.commit(tmp, key, meta);
    return reply.header("etag", `"${info.etag}"`).send();
  } finally {
    await store.discard(tmp);
  }
}
