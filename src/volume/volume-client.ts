// The volume over RunPod's S3 API, through @aws-sdk/client-s3: list, head, upload a file (one PUT when small,
// a resumable multipart upload otherwise), download a file (to a temporary file, checked, then renamed).
// Every body carries its MD5 (Content-MD5), so the server refuses a part that arrived damaged; a multipart upload
// left behind by an interrupted run is found again (ListMultipartUploads) and only its missing or damaged parts are
// sent. Errors are VolumeErrors in words a person can act on, and never carry the S3 secret.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat, utimes } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform, type Readable } from "node:stream";
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand,
  PutObjectCommand, S3Client, S3ServiceException, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { localFailure, shown, terminalSafe } from "./names";
import { VolumeError, type VolumeTarget } from "./target";

export const MIB = 1024 * 1024;
/** S3's smallest part but the last. */
export const MIN_PART_SIZE = 5 * MIB;

export interface RemoteObject {
  key: string;
  size: number;
  lastModified: Date;
  /** Without quotes. On RunPod's volumes and the emulator: the file's MD5; "…-N" would be a multipart ETag. */
  etag: string;
}

export interface ClientOptions {
  /** Bytes per part of a multipart upload (≥ 5 MiB); files smaller go in one PUT. Default 16 MiB. */
  partSize?: number;
  /** Parts in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per request (the SDK's retries of 5xx, throttling and dropped connections). Default 5. */
  maxAttempts?: number;
}

export interface UploadResult {
  /** Parts sent by this run (0 for a single PUT). */
  partsSent: number;
  /** Parts found already on the volume from an interrupted run, checked and kept. */
  partsResumed: number;
}

export const md5Hex = (data: Buffer) => createHash("md5").update(data).digest("hex");

export async function fileMd5(file: string): Promise<string> {
  const hash = createHash("md5");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export class VolumeClient {
  readonly s3: S3Client;
  readonly partSize: number;
  private readonly concurrency: number;

  constructor(readonly target: VolumeTarget, options: ClientOptions = {}) {
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? 16 * MIB);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.s3 = new S3Client({
      region: target.dataCenter,
      endpoint: target.endpoint,
      forcePathStyle: true,
      credentials: target.credentials,
      maxAttempts: options.maxAttempts ?? 5,
      // Plain signed bodies with Content-MD5, not aws-chunked streams with trailing CRC32s: the least a
      // file-system-backed S3 API has to understand.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  close(): void {
    this.s3.destroy();
  }

  /** An S3 failure in words: what went wrong, about what, and what to do. The secret is never in it. */
  explain(err: unknown, what: string): VolumeError {
    const { volumeId, dataCenter, endpoint, credentials } = this.target;
    const scrub = (text: string) => text.split(credentials.secretAccessKey).join("[redacted]");
    if (err instanceof VolumeError) return err;
    const local = localFailure(err, what);
    if (local !== undefined) return new VolumeError(local, err);
    const name = (err as { name?: string })?.name ?? "Error";
    const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
    const detail = terminalSafe(scrub(String((err as Error)?.message ?? err)));
    let message: string;
    if (this.target.role === "backup") {
      message = explainBackupStore(name, status, detail, this.target);
      return new VolumeError(`${what}: ${message}`, err);
    }
    if (name === "RequestTimeTooSkewed" || /RequestTimeTooSkewed|time too skewed/i.test(detail)) {
      message = `${endpoint} refused the request because this machine's clock is off (${name}: ${detail}): set the clock ` +
        "(e.g. `timedatectl set-ntp true`), then run the same command again; the S3 API key itself was not refused";
    } else if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "AccessDenied" || status === 403) {
      message = `the S3 API key was refused (${name}): check RUNPOD_S3_ACCESS_KEY_ID (${credentials.accessKeyId}, your RunPod user id) and ` +
        "RUNPOD_S3_SECRET_ACCESS_KEY (the rps_… secret shown once when the S3 API key was made; it is not the RunPod API key)";
    } else if (name === "NoSuchBucket") {
      message = `network volume ${volumeId} was not found at ${endpoint} (data center ${dataCenter}): check the volume id and its data center`;
    } else if (name === "AuthorizationHeaderMalformed") {
      message = `network volume ${volumeId} is not in data center ${dataCenter}: ${detail}`;
    } else if (name === "InsufficientStorage" || status === 507) {
      message = `network volume ${volumeId} is full: grow it (\`pulumi config set metahuman:volumeSizeGb <GB>\` then \`pulumi up\`; ` +
        "a volume grows in place, never shrinks) or free room, then run the same command again";
    } else if (status === undefined && !isNetworkFailure(err)) {
      message = `${name}: ${detail}`;
    } else if (status === undefined) {
      message = `the connection to ${endpoint} failed (${name}: ${detail})`;
    } else {
      message = `S3 answered ${status} ${name}: ${detail}`;
    }
    return new VolumeError(`${what}: ${message}`, err);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.explain(err, what);
    }
  }

  async list(prefix: string): Promise<RemoteObject[]> {
    const out: RemoteObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(`listing ${prefix || "the volume"}`, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.target.volumeId, Prefix: prefix, ContinuationToken: token, EncodingType: "url" })));
      // Asked for URL-encoded keys, so that a key with a carriage return or a control character survives the XML; a
      // server that does not encode them says so by leaving EncodingType out, and its keys are taken as they are.
      const encoded = page.EncodingType === "url";
      for (const c of page.Contents ?? []) {
        if (c.Key === undefined) continue;
        const key = encoded ? decodeKey(c.Key) : c.Key;
        if (key.endsWith("/")) continue;
        out.push({ key, size: c.Size ?? 0, lastModified: c.LastModified ?? new Date(0), etag: unquote(c.ETag) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async head(key: string): Promise<RemoteObject | undefined> {
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.target.volumeId, Key: key }));
      return { key, size: h.ContentLength ?? 0, lastModified: h.LastModified ?? new Date(0), etag: unquote(h.ETag) };
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404 && err.name !== "NoSuchBucket") return undefined;
      throw this.explain(err, `looking up ${shown(key)}`);
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(`deleting ${shown(key)}`, () => this.s3.send(new DeleteObjectCommand({ Bucket: this.target.volumeId, Key: key })));
  }

  async putBytes(key: string, body: Buffer): Promise<void> {
    await this.call(`uploading ${shown(key)}`, () => this.s3.send(new PutObjectCommand({
      Bucket: this.target.volumeId, Key: key, Body: body, ContentLength: body.length,
      ContentMD5: Buffer.from(md5Hex(body), "hex").toString("base64"),
    })));
  }

  /**
   * Uploads `file` to `key`, reporting bytes as they land. Big files go in parts; an upload of the same key left by
   * an interrupted run is resumed: its parts are checked against the file (size and MD5) and only the others sent.
   */
  async putFile(file: string, key: string, onBytes: (n: number) => void = () => {}): Promise<UploadResult> {
    const size = (await stat(file)).size;
    if (size <= this.partSize) {
      await this.putBytes(key, await readRange(file, 0, size));
      onBytes(size);
      return { partsSent: 0, partsResumed: 0 };
    }
    return this.putMultipart(file, key, size, onBytes);
  }

  private async putMultipart(file: string, key: string, size: number, onBytes: (n: number) => void): Promise<UploadResult> {
    const bucket = this.target.volumeId;
    let partSize = this.partSize;
    let uploadId: string | undefined;
    let stored = new Map<number, { etag: string; size: number }>();
    const pending = await this.call(`looking for an interrupted upload of ${shown(key)}`, () =>
      this.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key })));
    const earlier = (pending.Uploads ?? []).filter((u) => u.Key === key && u.UploadId)
      .sort((a, b) => (b.Initiated?.getTime() ?? 0) - (a.Initiated?.getTime() ?? 0));
    for (const [i, upload] of earlier.entries()) {
      if (i === 0) {
        const parts = await this.call(`reading the parts of the interrupted upload of ${shown(key)}`, () =>
          this.s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId })));
        stored = new Map((parts.Parts ?? []).map((p) => [p.PartNumber ?? 0, { etag: unquote(p.ETag), size: p.Size ?? 0 }]));
        // Resume with the part size the interrupted run used (its first part tells it), if it is a valid one.
        const first = stored.get(1)?.size;
        if (first !== undefined && first >= MIN_PART_SIZE && first < size) partSize = first;
        uploadId = upload.UploadId;
      } else {
        // Older leftovers of the same key only take room: abort them.
        await this.call(`aborting an older upload of ${shown(key)}`, () =>
          this.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId })));
      }
    }
    if (uploadId === undefined) {
      const created = await this.call(`starting the upload of ${shown(key)}`, () =>
        this.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })));
      uploadId = created.UploadId!;
    }
    const count = Math.ceil(size / partSize);
    const etags: string[] = new Array(count);
    let next = 0;
    let partsSent = 0;
    let partsResumed = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        const start = index * partSize;
        const length = Math.min(partSize, size - start);
        const body = await readRange(file, start, length);
        const md5 = md5Hex(body);
        const have = stored.get(index + 1);
        if (have && have.size === length && have.etag === md5) {
          etags[index] = md5;
          partsResumed++;
          onBytes(length);
          continue;
        }
        const sent = await this.call(`uploading part ${index + 1} of ${count} of ${shown(key)} (run the same command again to resume)`, () =>
          this.s3.send(new UploadPartCommand({
            Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: body, ContentLength: length,
            ContentMD5: Buffer.from(md5, "hex").toString("base64"),
          })));
        if (unquote(sent.ETag) !== md5) throw new VolumeError(`part ${index + 1} of ${shown(key)} arrived with ETag ${sent.ETag}, not its MD5 ${md5}: run the same command again`);
        etags[index] = md5;
        partsSent++;
        onBytes(length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
    await this.call(`completing the upload of ${shown(key)}`, () => this.s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId: uploadId,
      MultipartUpload: { Parts: etags.map((etag, i) => ({ PartNumber: i + 1, ETag: `"${etag}"` })) },
    })));
    const landed = await this.head(key);
    if (landed?.size !== size) throw new VolumeError(`${shown(key)} is ${landed?.size ?? "missing"} bytes on the volume after its upload, not ${size}: run the same command again`);
    return { partsSent, partsResumed };
  }

  /**
   * Downloads `key` to `file` through a temporary file beside it, stops at the object's listed size (a body that runs
   * past it is cut off, not written on), checks its size (and its MD5 when the ETag is one), renames it into place
   * and gives it the object's modification time when that is a sane one. The temporary name does not derive from the
   * file's, so a name at the file system's length limit still fits.
   */
  async getFile(remote: RemoteObject, file: string, onBytes: (n: number) => void = () => {}): Promise<void> {
    const where = `writing ${shown(remote.key)} to ${shown(file)}`;
    const local = async <T>(run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        throw this.explain(err, where);
      }
    };
    await local(() => mkdir(path.dirname(file), { recursive: true }));
    const tmp = path.join(path.dirname(file), `.metahuman-${randomBytes(6).toString("hex")}.part`);
    try {
      const got = await this.call(`downloading ${shown(remote.key)}`, () => this.s3.send(new GetObjectCommand({ Bucket: this.target.volumeId, Key: remote.key })));
      const hash = createHash("md5");
      let size = 0;
      const body = got.Body as Readable;
      const limit = new Transform({
        transform: (chunk: Buffer, _encoding, done) => {
          if (size + chunk.length > remote.size) {
            done(new VolumeError(`${shown(remote.key)} ran past its listed size of ${remote.size} bytes (it changed on the volume while it was read, or the server sent more): stopped at ${remote.size} bytes, nothing was written; run the same command again`));
            return;
          }
          hash.update(chunk);
          size += chunk.length;
          onBytes(chunk.length);
          done(null, chunk);
        },
      });
      await pipeline(body, limit, createWriteStream(tmp, { mode: 0o600, flags: "wx" })).catch((err) => {
        body.destroy();
        throw this.explain(err, `downloading ${shown(remote.key)}`);
      });
      const md5 = hash.digest("hex");
      if (size !== remote.size) throw new VolumeError(`${shown(remote.key)} arrived with ${size} bytes, not ${remote.size}: nothing was written; run the same command again`);
      if (isMd5(remote.etag) && md5 !== remote.etag) throw new VolumeError(`${shown(remote.key)} arrived damaged (MD5 ${md5}, expected ${remote.etag}): nothing was written; run the same command again`);
      if (saneTime(remote.lastModified)) await local(() => utimes(tmp, remote.lastModified, remote.lastModified));
      await local(() => rename(tmp, file));
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Latest a time from outside may be and still be believed: this machine's clock, plus a day for zones and drift. */
export const FUTURE_SLACK_MS = 24 * 3600 * 1000;

/** A time this tool believes: a real date, after 1980 (zip's epoch; nothing here is older), not in the future. */
export function saneTime(d: Date, now = Date.now()): boolean {
  const t = d.getTime();
  return Number.isFinite(t) && t >= Date.UTC(1980, 0, 1) && t <= now + FUTURE_SLACK_MS;
}

/** The same failures, for a backup bucket: in terms of its own settings (BACKUP_*), never the volume's key. */
function explainBackupStore(name: string, status: number | undefined, detail: string, target: VolumeTarget): string {
  const { volumeId: bucket, dataCenter: region, endpoint, credentials } = target;
  if (name === "RequestTimeTooSkewed" || /RequestTimeTooSkewed|time too skewed/i.test(detail)) {
    return `the backup store at ${endpoint} refused the request because this machine's clock is off (${name}: ${detail}): set the clock, then run the same command again`;
  }
  if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "AccessDenied" || status === 403) {
    return `the backup store at ${endpoint} refused the key (${name}): check BACKUP_AWS_ACCESS_KEY_ID (${credentials.accessKeyId}) and ` +
      "BACKUP_AWS_SECRET_ACCESS_KEY, the backup store's own key (not the volume's RunPod S3 key), and that it may write to bucket " + bucket;
  }
  if (name === "NoSuchBucket") return `bucket ${bucket} does not exist at ${endpoint}: create it, or check the s3:// URL and BACKUP_S3_ENDPOINT`;
  if (name === "AuthorizationHeaderMalformed" || name === "PermanentRedirect" || status === 301) {
    return `bucket ${bucket} is not in region ${region}: set BACKUP_S3_REGION (or --backup-region) to its region (${detail})`;
  }
  if (name === "InsufficientStorage" || status === 507) return `the backup store at ${endpoint} is full (bucket ${bucket}): free room there, then run the same command again`;
  if (status === undefined) return `the connection to the backup store at ${endpoint} failed (${name}: ${detail}): check BACKUP_S3_ENDPOINT`;
  return `the backup store answered ${status} ${name}: ${detail}`;
}

/** A failure on the way to the server (no answer), as the SDK and Node report it: not a file here, not a bug. */
function isNetworkFailure(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: unknown } | undefined;
  if (e === undefined || e === null) return false;
  if (e.$metadata !== undefined) return true;
  const text = `${e.name ?? ""} ${e.code ?? ""} ${e.message ?? ""}`;
  return /ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|socket|Timeout|Networking|aborted|premature close|terminated|fetch failed/i.test(text);
}

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, "%20"));
  } catch {
    throw new VolumeError(`the volume listed a key that is not valid URL encoding (${shown(key)}): nothing was transferred`);
  }
}

export function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

export function isMd5(etag: string): boolean {
  return /^[0-9a-f]{32}$/.test(etag);
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(buffer, read, length - read, start + read);
      if (bytesRead === 0) throw new VolumeError(`${file} became shorter while it was being uploaded`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}
