// `npm run volume` against `npm run local`'s stack, as docs/deploy.md's "Your first deploy" runs it against RunPod: the
// volume's S3 API comes from the emulator the stack was deployed to, the S3 key from .local/volume.env. A model
// pushed with push-model is what the next worker finds in its Hugging Face cache (it logs the snapshot); the
// person's data goes up with push-data, and a backup and restore round trip of the volume is byte-identical.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as dotenv from "dotenv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../src/infra/config";
import { startLocalStack, type LocalStack } from "../../src/local/local-stack";
import { metahumanChat, metahumanCookie, processesTagged } from "./local-helpers";

const REPO = path.resolve(__dirname, "../..");
let dataDir: string;
let work: string;
let stack: LocalStack | undefined;
let cookie: string;
let env: NodeJS.ProcessEnv;
const timings: Record<string, number> = {};

/** `npm run volume -- …` as a child process; asynchronous, since the emulator answering it runs in this process. */
function npmVolume(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", "volume", "--", ...args], { cwd: REPO, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill("SIGTERM"), 240_000);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    const full = path.join(dir, rel);
    if (statSync(full).isFile()) out[rel] = createHash("sha256").update(readFileSync(full)).digest("hex");
  }
  return out;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "metahuman-volume-local-"));
  work = mkdtempSync(path.join(tmpdir(), "volume-local-work-"));
  const started = Date.now();
  stack = await startLocalStack({ dataDir, webPort: 0, emulatorPort: 0, idleTimeoutMs: 3_000 });
  timings["npm run local (emulator, pulumi up, web server)"] = (Date.now() - started) / 1000;
  cookie = await metahumanCookie(stack.webUrl, stack.user.username, stack.user.password);
  env = { ...dotenv.parse(readFileSync(stack.volumeEnvFile, "utf8")) };
});

afterAll(async () => {
  await stack?.stop();
  if (stack) expect(processesTagged(stack.tag)).toEqual([]);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`step timings (s): ${JSON.stringify(timings)}\n`);
});

describe("npm run volume against npm run local", () => {
  it("volume.env names the stack's volume and data center; its secret file is the person's only", () => {
    expect(env.RUNPOD_S3_ENDPOINT_URL).toBe(stack!.s3Url);
    expect(env.RUNPOD_VOLUME_ID).toMatch(/\S/);
    expect(env.RUNPOD_DATA_CENTER).toBe(parseStackConfig({}).dataCenter);
    expect(statSync(stack!.volumeEnvFile).mode & 0o077).toBe(0);
  });

  it("push-model of a small model is what the next worker finds in its cache, and a chat still answers", async () => {
    const model = parseStackConfig({}).model;
    const dir = path.join(work, "model");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "qwen2" }));
    writeFileSync(path.join(dir, "model.safetensors"), randomBytes(24 * 1024 * 1024));
    const pushed = await npmVolume(["push-model", model, "--from", dir]);
    timings["npm run volume -- push-model (24 MiB)"] = pushed.seconds;
    expect(pushed.status, pushed.stderr).toBe(0);
    const throughput = /\(([\d.]+ [KMG]iB)\/s\)/.exec(pushed.stdout)?.[1];
    process.stdout.write(`push-model on loopback: ${throughput}/s\n`);
    const commit = readFileSync(path.join(dataDir, "volume", "huggingface-cache", "hub", `models--${model.replace("/", "--")}`, "refs", "main"), "utf8");

    const started = Date.now();
    const result = await metahumanChat(stack!.webUrl, cookie, "hello model on the volume");
    timings["first chat (cold start)"] = (Date.now() - started) / 1000;
    expect(result.status).toBe(200);
    expect(result.response).toContain("hello model on the volume");
    const jobs = (await (await fetch(`${stack!.emulatorUrl}/_emulator/jobs?endpointId=${stack!.endpointId}`, { headers: { authorization: `Bearer ${stack!.apiKey}` } })).json()) as { workerId?: string }[];
    const output = stack!.workers.outputOf(jobs.at(-1)!.workerId!).join("\n");
    expect(output).toContain(`model ${model} found in the Hugging Face cache: snapshot ${commit} (revision main)`);
  });

  it("push-data, du, backup and restore round trip byte-identical on the local volume", async () => {
    const mine = path.join(work, "metahuman-os");
    mkdirSync(path.join(mine, "persona"), { recursive: true });
    writeFileSync(path.join(mine, "persona", "core.json"), JSON.stringify({ name: "Ada" }));
    mkdirSync(path.join(mine, "memory", "episodic", "2025"), { recursive: true });
    writeFileSync(path.join(mine, "memory", "episodic", "2025", "day-one.json"), JSON.stringify({ text: "first memory" }));
    const pushed = await npmVolume(["push-data", mine]);
    timings["npm run volume -- push-data"] = pushed.seconds;
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(readFileSync(path.join(stack!.volumeDir, "persona", "core.json"), "utf8")).toBe(JSON.stringify({ name: "Ada" }));
    const usage = await npmVolume(["du", "--size-gb", "50"]);
    expect(usage.status, usage.stderr).toBe(0);
    expect(usage.stdout).toContain("huggingface-cache/hub/models--");

    const before = hashes(stack!.volumeDir);
    const backups = path.join(work, "backups");
    const taken = await npmVolume(["backup", backups]);
    timings["npm run volume -- backup"] = taken.seconds;
    expect(taken.status, taken.stderr).toBe(0);
    const dir = path.join(backups, readdirSync(backups)[0]!);
    rmSync(stack!.volumeDir, { recursive: true });
    mkdirSync(stack!.volumeDir);
    const restored = await npmVolume(["restore", dir]);
    timings["npm run volume -- restore"] = restored.seconds;
    expect(restored.status, restored.stderr).toBe(0);
    expect(hashes(stack!.volumeDir)).toEqual(before);
  });
});
