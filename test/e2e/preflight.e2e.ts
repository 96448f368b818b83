// `pulumi preview` runs the preflight against the live catalog (the emulator's): a GPU pool the data center does
// not offer for serverless fails the preview naming the key, the value and what is available, and nothing is
// created; with the catalog unreachable the preview goes on and says the preflight was skipped.
import { afterAll, beforeAll, expect, it } from "vitest";
import { list, PulumiProject, startEmulator, type RunningEmulator } from "./harness";

let emu: RunningEmulator;
let project: PulumiProject;

beforeAll(async () => {
  emu = await startEmulator();
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  await project.setConfig("sessionSecret", "e2e-session-secret-preflight", { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

it("a pool without serverless capacity in the data center fails preview and up by name; nothing is created", async () => {
  await project.setConfig("dataCenter", "EU-SE-1");
  await project.setConfig("gpuPools", "AMPERE_16");
  const preview = await project.run(["preview"]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain('metahuman:gpuPools = "AMPERE_16": AMPERE_16 offers no serverless capacity in EU-SE-1; available there: ADA_24, AMPERE_80');
  const up = await project.run(["up", "--yes", "--skip-preview"]);
  expect(up.code).not.toBe(0);
  expect(await list(emu, "/v2/network-volumes")).toHaveLength(0);
  expect(await list(emu, "/v2/serverless")).toHaveLength(0);
});

it("an unset image fails preview naming the key and how to build and pin it", async () => {
  await project.run(["config", "rm", "metahuman:gpuPools"]);
  await project.run(["config", "rm", "metahuman:dataCenter"]);
  await project.ok(["config", "rm", "metahuman:workerImage"]);
  const preview = await project.run(["preview"]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain("metahuman:workerImage is not set, and no default points at an image: build and push docker/worker.Dockerfile");
  expect(preview.output).toContain("pulumi config set metahuman:workerImage ghcr.io/<you>/metahuman-worker@sha256:<digest>");
  expect(preview.output).not.toContain("metahuman:webImage is not set");
});
