// `pulumi preview` runs the preflight against the live catalog (the emulator's): a GPU pool the data center does
// not offer for serverless, or a data center without RunPod's S3 API, fails the preview naming the key, the value and
// what is available, and nothing is created; metahuman:allowNoS3 = true lets the latter through with a warning.
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
  // EU-SE-1 has no S3 API either: both problems are named in the one failure.
  expect(preview.output).toContain('metahuman:dataCenter = "EU-SE-1": RunPod\'s S3 API for network volumes is not offered there');
  const up = await project.run(["up", "--yes", "--skip-preview"]);
  expect(up.code).not.toBe(0);
  expect(await list(emu, "/v2/network-volumes")).toHaveLength(0);
  expect(await list(emu, "/v2/serverless")).toHaveLength(0);
});

it("a data center without the S3 API fails preview naming where it is offered; allowNoS3 = true deploys there with a warning", async () => {
  await project.run(["config", "rm", "metahuman:gpuPools"]);
  await project.setConfig("dataCenter", "US-TX-3");
  const refused = await project.run(["preview"]);
  expect(refused.code).not.toBe(0);
  expect(refused.output).toContain(
    'metahuman:dataCenter = "US-TX-3": RunPod\'s S3 API for network volumes is not offered there, so `npm run volume` ' +
    "(push-model, push-data, backup, restore) cannot reach the volume; it is offered in EU-CZ-1, EU-RO-1,",
  );
  expect(refused.output).toContain("`pulumi config set metahuman:allowNoS3 true` to deploy there anyway");
  expect(await list(emu, "/v2/network-volumes")).toHaveLength(0);

  await project.setConfig("allowNoS3", "true");
  const allowed = await project.run(["preview"]);
  expect(allowed.code, allowed.output).toBe(0);
  expect(allowed.output).toContain("(deploying anyway: metahuman:allowNoS3 = true)");
  await project.ok(["config", "rm", "metahuman:allowNoS3"]);
});

it("an unset image fails preview naming the key and how to build and pin it", async () => {
  await project.run(["config", "rm", "metahuman:dataCenter"]);
  await project.ok(["config", "rm", "metahuman:workerImage"]);
  const preview = await project.run(["preview"]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain("metahuman:workerImage is not set, and no default points at an image: build and push docker/worker.Dockerfile");
  expect(preview.output).toContain("pulumi config set metahuman:workerImage ghcr.io/<you>/metahuman-worker@sha256:<digest>");
  expect(preview.output).not.toContain("metahuman:webImage is not set");
});
