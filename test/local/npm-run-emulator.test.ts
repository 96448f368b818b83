// `npm run emulator` as a user runs it: the command in a shell's process group, called over HTTP on the URLs it
// prints, its jobs answered by real RunPod SDK worker processes (not an in-process stand-in), Ctrl-C leaving nothing.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesTagged } from "../e2e/local-helpers";
import { commandEnv, outputText, spawnEmulatorCommand, startEmulatorCommand, type EmulatorCommand } from "../clients/emulator-command";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

describe("npm run emulator", () => {
  let emu: EmulatorCommand;
  const get = (path: string) => fetch(`${emu.origin}${path}`, { headers: { authorization: `Bearer ${emu.apiKey}` } });

  const volumesDir = mkdtempSync(path.join(tmpdir(), "emulator-volumes-"));
  beforeAll(async () => {
    emu = await startEmulatorCommand({ env: { EMULATOR_VOLUMES_DIR: volumesDir } });
  });
  afterAll(async () => {
    if (emu.child.exitCode === null) await emu.interrupt();
    rmSync(volumesDir, { recursive: true, force: true });
  });

  it("serves RunPod's S3 API at the root of a listener per data center, printing its URL and keys", async () => {
    const out = emu.output();
    const url = /EU-RO-1 +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    const accessKeyId = /RUNPOD_S3_ACCESS_KEY_ID=(\S+)/.exec(out)?.[1];
    const secretAccessKey = /RUNPOD_S3_SECRET_ACCESS_KEY=(\S+)/.exec(out)?.[1];
    const made = await fetch(`${emu.origin}/v2/network-volumes`, {
      method: "POST", headers: { authorization: `Bearer ${emu.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "s3-check", size: 10, dataCenter: "EU-RO-1" }),
    });
    const volumeId = ((await made.json()) as { id: string }).id;
    const s3 = new S3Client({ region: "EU-RO-1", endpoint: url, forcePathStyle: true, credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! }, maxAttempts: 1 });
    try {
      expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual([volumeId]);
      await s3.send(new PutObjectCommand({ Bucket: volumeId, Key: "hello/there.txt", Body: "hi" }));
      expect(readFileSync(path.join(volumesDir, volumeId, "hello", "there.txt"), "utf8")).toBe("hi");
      const got = await s3.send(new GetObjectCommand({ Bucket: volumeId, Key: "hello/there.txt" }));
      expect(await got.Body!.transformToString()).toBe("hi");
    } finally {
      s3.destroy();
    }
  });

  it("prints the base URLs and the id of an endpoint it created through its REST v2", async () => {
    expect(emu.output()).toContain(`RUNPOD_SERVERLESS_URL=${emu.origin}/v2`);
    expect(emu.output()).toContain(`OpenAI base URL  ${emu.origin}/v2/${emu.endpointId}/openai/v1`);
    expect(emu.output()).toContain("RUNPOD_API_KEY=(from your environment)");
    const endpoints = (await (await get("/v2/serverless")).json()) as { endpoints: Array<{ id: string; type: string }> };
    expect(endpoints.endpoints.map((e) => e.id)).toEqual([emu.endpointId]);
    const health = await (await get(`/v2/${emu.endpointId}/health`)).json();
    expect(health.workers).toMatchObject({ idle: 0, initializing: 0, ready: 0, running: 0 });
    expect((await fetch(`${emu.origin}/v2/${emu.endpointId}/health`, { headers: { authorization: "Bearer local-dev-key" } })).status).toBe(401);
  });

  it("answers a job with a real SDK worker process running the handler's echo engine", async () => {
    const res = await fetch(`${emu.serverlessUrl}/${emu.endpointId}/runsync`, {
      method: "POST",
      headers: { authorization: `Bearer ${emu.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { messages: [{ role: "user", content: "one two three four" }], max_tokens: 3, temperature: 0 } }),
    });
    const job = await res.json();
    expect(job.status, JSON.stringify(job)).toBe("COMPLETED");
    // The handler honours max_tokens (the old in-process echo did not).
    expect(outputText(job.output)).toBe("one two three");
    // The worker is a process of its own, started for this job, running handler/handler.py under the tag.
    const workers = processesTagged(emu.tag).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("handler/handler.py"));
    expect(workers.length).toBeGreaterThanOrEqual(1);
    expect(job.workerId).toMatch(/^worker-/);
    // REST v2 lists that worker.
    const listed = await (await get(`/v2/serverless/${emu.endpointId}/workers`)).json();
    expect(listed.workers).toEqual([expect.objectContaining({ id: job.workerId, status: expect.stringMatching(/^(IDLE|RUNNING)$/), isStale: false })]);
    expect(listed.summary.total).toBe(1);
  });

  it("Ctrl-C stops the emulator and every worker process, and exits 0", async () => {
    const code = await emu.interrupt();
    expect(code).toBe(0);
    expect(emu.output()).toContain("stopped.");
    expect(processesTagged(emu.tag)).toEqual([]);
    await expect(fetch(`${emu.origin}/v2/serverless`)).rejects.toThrow();
  });
});

describe("npm run emulator refuses what it cannot do, naming it", () => {
  it("a port that is taken (from RUNPOD_EMULATOR_PORT), a port that is not a number, an unknown option", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const busy = spawnEmulatorCommand([], commandEnv("refusal-busy", { RUNPOD_EMULATOR_PORT: String(port) }));
      expect(await busy.exited).toBe(1);
      expect(busy.output()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      taken.close();
    }
    const bad = spawnEmulatorCommand(["--port", "eighty"], commandEnv("refusal-bad"));
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('--port "eighty" is not allowed: give a whole number from 0 to 65535');
    const unknown = spawnEmulatorCommand(["--prot", "1"], commandEnv("refusal-unknown"));
    expect(await unknown.exited).toBe(1);
    expect(unknown.output()).toContain("Unknown option '--prot'");
    expect(unknown.output()).toContain("usage: npm run emulator");
  });
});
