// The emulator on loopback with its S3 API for network volumes: volumes' files under a temporary folder, one S3 key,
// and volumes created through REST v2 as `pulumi up` would create them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHash, createHmac } from "node:crypto";
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";
import { startS3Listener, type S3Listener } from "../../src/emulator/s3/s3-api";

export const API_KEY = "test-key-s3";
export const S3_KEY = { accessKeyId: "user_2testS3AccessKeyId", secretAccessKey: "rps_TESTSECRET0123456789abcdefSECRET" };

export interface S3Emulator {
  app: FastifyInstance;
  origin: string;
  /** `http://127.0.0.1:PORT/s3`: the S3 endpoint of every data center here. */
  s3Url: string;
  /** Volumes' folders live under here, one per volume id. */
  root: string;
  createVolume(dataCenter?: string, sizeGb?: number): Promise<string>;
  folderOf(volumeId: string): string;
  control(method: string, path: string, body?: unknown): Promise<number>;
  client(region: string, key?: typeof S3_KEY, endpoint?: string): S3Client;
  /** A data center's S3 endpoint at the root of a listener of its own (closed with the emulator). */
  listener(dataCenter: string): Promise<S3Listener>;
  /** One request signed by AWS's own signer (`url` is the full URL), for what the SDK will not send. */
  signed(method: string, url: string, options?: { region?: string; headers?: Record<string, string>; body?: string; signingDate?: Date }): Promise<{ status: number; text: string; headers: Headers }>;
  close(): Promise<void>;
}

/** `key`: the one S3 key it accepts (a second emulator with another key stands for a backup store of one's own). */
export async function startS3Emulator(key: typeof S3_KEY = S3_KEY): Promise<S3Emulator> {
  const root = mkdtempSync(path.join(tmpdir(), "s3-emu-"));
  const folderOf = (id: string) => path.join(root, id);
  const app = await buildEmulator({ apiKey: API_KEY, s3: { keys: [key], volumeFolder: folderOf } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  const clients: S3Client[] = [];
  const listeners: S3Listener[] = [];
  return {
    app, origin, root, folderOf, s3Url: `${origin}/s3`,
    async createVolume(dataCenter = "EU-RO-1", sizeGb = 10) {
      const res = await fetch(`${origin}/v2/network-volumes`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "metahuman-volume", size: sizeGb, dataCenter }),
      });
      if (res.status !== 201) throw new Error(`volume not created: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
    async control(method, p, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { "content-type": "application/json" }) };
      const res = await fetch(`${origin}${p}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      await res.arrayBuffer();
      return res.status;
    },
    async listener(dataCenter) {
      const started = await startS3Listener(app.s3Api!, dataCenter);
      listeners.push(started);
      return started;
    },
    async signed(method, url, options = {}) {
      const target = new URL(url);
      const body = options.body ?? "";
      const signer = new SignatureV4({ service: "s3", region: options.region ?? "EU-RO-1", credentials: key, sha256: Sha256, uriEscapePath: false });
      const query: Record<string, string> = {};
      for (const [k, v] of target.searchParams) query[k] = v;
      const signed = await signer.sign({
        method, protocol: "http:", hostname: target.hostname, port: Number(target.port), path: target.pathname, query,
        headers: { host: target.host, "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"), ...options.headers },
        ...(body === "" ? {} : { body }),
      }, options.signingDate ? { signingDate: options.signingDate } : {});
      const res = await fetch(target, { method, headers: signed.headers as Record<string, string>, ...(body === "" ? {} : { body }) });
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    client(region, clientKey = key, endpoint = `${origin}/s3`) {
      const client = new S3Client({
        region, endpoint, forcePathStyle: true, credentials: clientKey,
        requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED", maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      for (const l of listeners) await l.close();
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** SHA-256 for the AWS signer (its own checksum package is not a dependency of ours). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** The S3 error a call fails with; a call that succeeds, or fails otherwise, fails the test. */
export async function failure(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof S3ServiceException) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}
