// Pulumi serializes each dynamic provider into state and runs it in a separate plain-node process.
// This test does the same: serialize in a tsx process (like a Pulumi TypeScript program), load the
// text in a fresh `node` without a TypeScript loader, and run check/create/read/delete against the
// emulator from there. It also proves the text holds no API key and no absolute path.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { API_KEY, startRestEmulator, type RestEmulator } from "./fixture";

const run = promisify(execFile);
const repoRoot = resolve(__dirname, "..", "..");
const SERIALIZE_TIME_KEY = "key-present-while-serializing-must-not-leak";

let emu: RestEmulator;
let workDir: string;
beforeAll(async () => {
  emu = await startRestEmulator();
  workDir = mkdtempSync(join(tmpdir(), "provider-serialization-"));
});
afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  await emu.close();
});

it("serialized providers run create/read/delete from a plain node process", async () => {
  const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
  const serialized = await run(tsx, [join(__dirname, "serialize-providers.ts")], {
    cwd: repoRoot,
    env: { ...process.env, RUNPOD_API_KEY: SERIALIZE_TIME_KEY, RUNPOD_API_URL: "http://127.0.0.1:9" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const texts = JSON.parse(serialized.stdout) as Record<string, string>;
  expect(Object.keys(texts).sort()).toEqual(["endpoint", "pod", "volume"]);
  for (const text of Object.values(texts)) {
    expect(text).toContain("exports.handler");
    expect(text).not.toContain(SERIALIZE_TIME_KEY);
    expect(text).not.toContain(repoRoot);
    // Packages are required by name at run time, not inlined.
    expect(text).toContain('require("zod")');
  }
  const textsFile = join(workDir, "providers.json");
  writeFileSync(textsFile, JSON.stringify(texts));

  const { stdout } = await run(process.execPath, [join(__dirname, "run-serialized-providers.cjs"), textsFile], {
    cwd: repoRoot,
    // Only what the dynamic-provider host has: the env, no loader flags.
    env: { PATH: process.env.PATH ?? "", RUNPOD_API_URL: emu.origin, RUNPOD_API_KEY: API_KEY },
  });
  const result = JSON.parse(stdout);
  expect(result.volume.outs).toEqual({ name: "ser", size: 10, dataCenter: "EU-RO-1", type: "STANDARD" });
  expect(result.volume.read.id).toBe(result.volume.id);
  expect(result.volumeCheckFailure[0].reason).toBe("NetworkVolume input size: got 1; allowed: an integer number of GB from 10 to 4096");
  // A class from src/common/errors.ts, rebuilt by the serializer, still makes real, readable Errors.
  const words = "RunPod API POST /v2/network-volumes failed (422 Unprocessable Entity): Request validation failed.\n  - $.size: must be <= 4096";
  expect(result.refused).toMatchObject({
    isError: true,
    text: `RunPodApiError: ${words}`,
    message: words,
    status: 422,
    isRetryable: false,
    fieldErrors: ["$.size: must be <= 4096"],
    json: { name: "RunPodApiError", status: 422, title: "Unprocessable Entity", method: "POST" },
  });
  expect(result.refused.stackHead[0]).toBe("RunPodApiError: RunPod API POST /v2/network-volumes failed (422 Unprocessable Entity): Request validation failed.");
  expect(result.refused.stackHead[2]).toMatch(/^\s+at /);
  expect(result.endpoint.outs).toMatchObject({ networkVolumeId: result.volume.id, workersMax: 1, idleTimeout: 5, queueDelay: 4 });
  expect(result.pod.outs).toMatchObject({ networkVolumeId: result.volume.id, volumeMountPath: "/runpod-volume", dataCenterId: "EU-RO-1" });
  expect(result.afterDelete).toEqual({ volume: "", endpoint: "", pod: "" });
  // The emulator saw those calls and holds nothing afterwards.
  const paths = (await emu.requests()).map((r) => `${r.method} ${r.path.replace(/\/[a-z0-9]{10}$/, "/{id}")}`);
  expect(paths).toContain("POST /v2/pods");
  expect(paths).toContain("DELETE /v2/network-volumes/{id}");
  expect(emu.app.runpodRest.snapshot()).toEqual({ networkVolumes: [], endpoints: [], pods: [] });
}, 120_000);
