// A network volume's folder seen as an S3 bucket: an object is a file, its key the path under the folder.
// Like RunPod's S3 API over a volume (a file system, not an object store), the ETag is the MD5 of the file as it is
// now (a completed multipart upload too, so an ETag never carries "-N"). An object's user metadata (`x-amz-meta-*`)
// and content type live beside it under `.s3-meta/`, tied to the file's size and modification time: a file changed
// from a pod loses them, as its bytes are no longer what they described. Writes land in a temporary file first and
// are renamed into place, so a reader never sees half an object. Multipart uploads in progress live under
// `.s3-uploads/`, which no listing shows.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";

export const RESERVED_PREFIX = ".s3-";
const UPLOADS = ".s3-uploads";
const TMP = ".s3-tmp";
const META = ".s3-meta";
/** Longest key in bytes (S3's limit); a path segment longer than the file system's 255 bytes is refused too. */
const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

export class S3Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "S3Error";
  }
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag: string;
}

/** What S3 keeps of an object besides its bytes: `x-amz-meta-*` (names lower-case, without the prefix), content type. */
export interface ObjectMeta {
  user: Record<string, string>;
  contentType?: string;
}

/** The file system's refusal of a key as an S3 error that names the key; anything else is passed on. */
export function fsError(err: unknown, key: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENAMETOOLONG") {
    return new S3Error(400, "KeyTooLongError", `object key ${JSON.stringify(key.slice(0, 80))}… is too long for the volume's file system (each part between slashes at most ${MAX_SEGMENT_BYTES} bytes)`);
  }
  if (code === "ENOTDIR" || code === "EEXIST") {
    return new S3Error(409, "KeyConflict", `object key ${JSON.stringify(key)} cannot be written: a part of its path before the last slash is a file on the volume, not a folder`);
  }
  if (code === "EISDIR") {
    return new S3Error(409, "KeyConflict", `object key ${JSON.stringify(key)} cannot be written: the volume has a folder of that name`);
  }
  return err;
}

export interface UploadInfo {
  uploadId: string;
  key: string;
  initiated: Date;
  /** The metadata CreateMultipartUpload was given; the completed object gets it. */
  meta: ObjectMeta;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
}

/** What a body written to disk turned out to be. */
export interface Written {
  size: number;
  md5: string;
  sha256: string;
}

export class VolumeStore {
  private readonly md5Cache = new Map<string, { size: number; mtimeMs: number; md5: string }>();

  constructor(readonly root: string) {}

  /** The file behind a key; keys that would leave the folder or touch the emulator's own files are refused. */
  fileOf(key: string): string {
    const segments = key.split("/");
    const bad = key === "" || key.startsWith("/") || segments.some((s, i) => s === "." || s === ".." || (s === "" && i !== segments.length - 1))
      || segments[0]!.startsWith(RESERVED_PREFIX) || key.includes("\0");
    if (bad) throw new S3Error(400, "InvalidArgument", `object key ${JSON.stringify(key)} is not a path inside the volume`);
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new S3Error(400, "KeyTooLongError", `object key of ${Buffer.byteLength(key)} bytes is longer than the ${MAX_KEY_BYTES} bytes allowed`);
    const long = segments.find((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES);
    if (long !== undefined) {
      throw new S3Error(400, "KeyTooLongError", `object key part ${JSON.stringify(`${long.slice(0, 40)}…`)} is ${Buffer.byteLength(long)} bytes; the volume's file system allows at most ${MAX_SEGMENT_BYTES} bytes between slashes`);
    }
    return path.join(this.root, ...segments);
  }

  async exists(): Promise<boolean> {
    return stat(this.root).then((s) => s.isDirectory(), () => false);
  }

  async head(key: string): Promise<ObjectInfo> {
    const file = this.fileOf(key);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
    return { key, size: info.size, lastModified: info.mtime, etag: await this.md5Of(file, info.size, info.mtimeMs) };
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.fileOf(key), range);
  }

  /** Streams `body` into a temporary file, checking it as it goes; `commit` renames it to `key`. */
  async receive(body: Readable): Promise<{ written: Written; tmp: string }> {
    const dir = path.join(this.root, TMP);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, randomBytes(12).toString("hex"));
    const md5 = createHash("md5");
    const sha256 = createHash("sha256");
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      md5.update(chunk);
      sha256.update(chunk);
    });
    try {
      await pipeline(body, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { written: { size, md5: md5.digest("hex"), sha256: sha256.digest("hex") }, tmp };
  }

  async discard(tmp: string): Promise<void> {
    await rm(tmp, { force: true });
  }

  async commit(tmp: string, key: string, meta: ObjectMeta = { user: {} }): Promise<ObjectInfo> {
    const file = this.fileOf(key);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await rename(tmp, file);
    } catch (err) {
      throw fsError(err, key);
    }
    const info = await this.head(key);
    await this.replaceMeta(key, meta);
    return info;
  }

  /** A server-side copy of `from` to `to`, byte for byte, with `meta` (the source's, or the request's). */
  async copy(from: string, to: string, meta: ObjectMeta): Promise<ObjectInfo> {
    await this.head(from);
    const dir = path.join(this.root, TMP);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, randomBytes(12).toString("hex"));
    try {
      await copyFile(this.fileOf(from), tmp);
      return await this.commit(tmp, to, meta);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private metaFile(key: string): string {
    return path.join(this.root, META, `${createHash("sha256").update(key).digest("hex")}.json`);
  }

  /** Sets an object's metadata (a copy onto itself with `x-amz-metadata-directive: REPLACE`). */
  async replaceMeta(key: string, meta: ObjectMeta): Promise<void> {
    const file = this.metaFile(key);
    if (Object.keys(meta.user).length === 0 && meta.contentType === undefined) {
      await rm(file, { force: true });
      return;
    }
    const info = await stat(this.fileOf(key));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ key, size: info.size, mtimeMs: info.mtimeMs, ...meta }));
  }

  /** The object's metadata, or none when the file changed since it was written. */
  async meta(key: string): Promise<ObjectMeta> {
    const text = await readFile(this.metaFile(key), "utf8").catch(() => undefined);
    if (text === undefined) return { user: {} };
    const info = await stat(this.fileOf(key)).catch(() => undefined);
    const kept = JSON.parse(text) as ObjectMeta & { key: string; size: number; mtimeMs: number };
    if (info === undefined || kept.key !== key || kept.size !== info.size || kept.mtimeMs !== info.mtimeMs) return { user: {} };
    return { user: kept.user, ...(kept.contentType === undefined ? {} : { contentType: kept.contentType }) };
  }

  async putEmpty(key: string): Promise<void> {
    // A key ending in "/" is a folder marker: make the folder.
    await mkdir(this.fileOf(key), { recursive: true }).catch((err: unknown) => {
      throw fsError(err, key);
    });
  }

  async delete(key: string): Promise<void> {
    const file = this.fileOf(key);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) {
      await rm(file);
      await rm(this.metaFile(key), { force: true });
    }
    else if (info?.isDirectory() && key.endsWith("/")) await rm(file, { recursive: false }).catch(() => {});
  }

  /** Every object under the folder whose key starts with `prefix`, sorted by key. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk from the deepest folder the prefix names, not from the root.
    const slash = prefix.lastIndexOf("/");
    const base = slash === -1 ? "" : prefix.slice(0, slash + 1);
    const start = base === "" ? this.root : path.join(this.root, ...base.split("/").filter(Boolean));
    const found: ObjectInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const key = `${keyPrefix}${entry.name}`;
        if (keyPrefix === "" && entry.name.startsWith(RESERVED_PREFIX)) continue;
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix)) await walk(path.join(dir, entry.name), `${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await stat(path.join(dir, entry.name)).catch(() => undefined);
          if (info) found.push({ key, size: info.size, lastModified: info.mtime, etag: await this.md5Of(path.join(dir, entry.name), info.size, info.mtimeMs) });
        }
      }
    };
    await walk(start, base);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Bytes the folder holds, uploads in progress included. */
  async usedBytes(): Promise<number> {
    let total = 0;
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) total += (await stat(full).catch(() => ({ size: 0 }))).size;
      }
    };
    await walk(this.root);
    return total;
  }

  // Multipart uploads: .s3-uploads/<id>/upload.json ({key, initiated}) and one file per part, <n>.part.

  async createUpload(key: string, meta: ObjectMeta = { user: {} }): Promise<string> {
    this.fileOf(key);
    const uploadId = randomBytes(16).toString("hex");
    const dir = path.join(this.root, UPLOADS, uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "upload.json"), JSON.stringify({ key, initiated: new Date().toISOString(), meta }));
    return uploadId;
  }

  async upload(uploadId: string, key?: string): Promise<UploadInfo> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw noSuchUpload();
    const text = await readFile(path.join(this.root, UPLOADS, uploadId, "upload.json"), "utf8").catch(() => undefined);
    if (text === undefined) throw noSuchUpload();
    const kept = JSON.parse(text) as { key: string; initiated: string; meta?: ObjectMeta };
    if (key !== undefined && kept.key !== key) throw noSuchUpload();
    return { uploadId, key: kept.key, initiated: new Date(kept.initiated), meta: kept.meta ?? { user: {} } };
  }

  async uploads(prefix: string): Promise<UploadInfo[]> {
    const ids = await readdir(path.join(this.root, UPLOADS)).catch(() => [] as string[]);
    const all = await Promise.all(ids.map((id) => this.upload(id).catch(() => undefined)));
    return all.filter((u): u is UploadInfo => u !== undefined && u.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()));
  }

  async storePart(uploadId: string, partNumber: number, tmp: string): Promise<void> {
    await rename(tmp, path.join(this.root, UPLOADS, uploadId, `${partNumber}.part`));
  }

  async parts(uploadId: string): Promise<PartInfo[]> {
    const dir = path.join(this.root, UPLOADS, uploadId);
    const names = (await readdir(dir)).filter((n) => /^\d+\.part$/.test(n));
    const parts = await Promise.all(names.map(async (name) => {
      const file = path.join(dir, name);
      const info = await stat(file);
      return { partNumber: Number(name.split(".")[0]), size: info.size, lastModified: info.mtime, etag: await this.md5Of(file, info.size, info.mtimeMs) };
    }));
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Joins the listed parts into the object; the upload is gone afterwards. */
  async completeUpload(uploadId: string, chosen: { partNumber: number; etag: string }[], minPartSize: number): Promise<ObjectInfo> {
    const upload = await this.upload(uploadId);
    const stored = new Map((await this.parts(uploadId)).map((p) => [p.partNumber, p]));
    if (chosen.length === 0) throw new S3Error(400, "MalformedXML", "The XML you provided did not list any part.");
    chosen.forEach((part, i) => {
      if (i > 0 && part.partNumber <= chosen[i - 1]!.partNumber) throw new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
    });
    chosen.forEach((part, i) => {
      const have = stored.get(part.partNumber);
      if (have === undefined || have.etag !== part.etag) {
        throw new S3Error(400, "InvalidPart", `Part ${part.partNumber} could not be found or its ETag does not match the part's.`);
      }
      if (i < chosen.length - 1 && have.size < minPartSize) {
        throw new S3Error(400, "EntityTooSmall", `Part ${part.partNumber} is ${have.size} bytes; every part but the last must be at least ${minPartSize} bytes.`);
      }
    });
    const dir = path.join(this.root, TMP);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, randomBytes(12).toString("hex"));
    const out = createWriteStream(tmp);
    // Each part's pipeline adds its listeners to the one output stream: up to 10,000 parts.
    out.setMaxListeners(0);
    try {
      for (const part of chosen) await pipeline(createReadStream(path.join(this.root, UPLOADS, uploadId, `${part.partNumber}.part`)), out, { end: false });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
    const info = await this.commit(tmp, upload.key, upload.meta);
    await rm(path.join(this.root, UPLOADS, uploadId), { recursive: true, force: true });
    return info;
  }

  async abortUpload(uploadId: string): Promise<void> {
    await this.upload(uploadId);
    await rm(path.join(this.root, UPLOADS, uploadId), { recursive: true, force: true });
  }

  private async md5Of(file: string, size: number, mtimeMs: number): Promise<string> {
    const cached = this.md5Cache.get(file);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.md5;
    const hash = createHash("md5");
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const md5 = hash.digest("hex");
    this.md5Cache.set(file, { size, mtimeMs, md5 });
    return md5;
  }
}

function noSuchUpload(): S3Error {
  return new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
}
