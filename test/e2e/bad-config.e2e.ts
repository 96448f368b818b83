// A bad config value stops `pulumi preview` and `pulumi up` with the config schema's message, before
// anything exists in RunPod.
import { afterAll, beforeAll, expect, it } from "vitest";
import { list, PulumiProject, startEmulator, type RunningEmulator } from "./harness";

let emu: RunningEmulator;
let project: PulumiProject;

beforeAll(async () => {
  emu = await startEmulator();
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  await project.setConfig("sessionSecret", "e2e-session-secret-bad-config", { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

async function nothingInRunpod(): Promise<void> {
  expect(await list(emu, "/v2/network-volumes")).toHaveLength(0);
  expect(await list(emu, "/v2/serverless")).toHaveLength(0);
  expect(await list(emu, "/v2/pods")).toHaveLength(0);
}

it("fails preview naming the key, the value and what is allowed, and up creates nothing", async () => {
  await project.setConfig("workersMax", "0");
  const preview = await project.run(["preview"]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain('metahuman:workersMax = "0": must be a whole number from 1 to 100');

  const up = await project.run(["up", "--yes", "--skip-preview"]);
  expect(up.code).not.toBe(0);
  expect(up.output).toContain("metahuman:workersMax");
  await nothingInRunpod();
  const state = await project.exportState();
  // The stack itself may be recorded; no RunPod resource is.
  const runpod = (state.deployment.resources ?? []).filter((r: { type: string }) => !r.type.startsWith("pulumi:"));
  expect(runpod).toEqual([]);
});

it("reports every bad key at once, misspelt keys included", async () => {
  await project.setConfig("workersMax", "3");
  await project.setConfig("dataCenter", "mars");
  await project.setConfig("workerMax", "3");
  const preview = await project.run(["preview"]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain('metahuman:dataCenter = "mars"');
  expect(preview.output).toContain("metahuman:workerMax is not a known setting");
  await nothingInRunpod();
});
