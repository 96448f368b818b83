// The emulator on loopback with its S3 API for network volumes: volumes' files under a temporary folder, one S3 key,
// and volumes created through REST v2 as `pulumi up` would create them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { FastifyInstance } from "fastify";
import { buildEmulator } from "../../src/emulator/emulator";

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
  client(region: string, key?: typeof S3_KEY): S3Client;
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
      const res = await fetch(`${origin}${p}`, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
      await res.arrayBuffer();
      return res.status;
    },
    client(region, clientKey = key) {
      const client = new S3Client({
        region, endpoint: `${origin}/s3`, forcePathStyle: true, credentials: clientKey,
        requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED", maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
