// `pulumi preview --policy-pack src/infra/policy` with the real CLI against the emulator: a base cost over the
// budget is a mandatory violation that fails the preview, naming the figure and the budget; within budget the
// same stack previews clean (the lead's stack protects the volume and sets the execution timeout).
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PulumiProject, REPO_ROOT, startEmulator, type RunningEmulator } from "./harness";

const POLICY_PACK = path.join(REPO_ROOT, "src", "infra", "policy", "analyzer");
let emu: RunningEmulator;
let project: PulumiProject;

beforeAll(async () => {
  emu = await startEmulator();
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  await project.setConfig("sessionSecret", "e2e-session-secret-policy", { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

it("fails the preview when the base cost is over the budget, naming both", async () => {
  await project.setConfig("budgetMonthlyUsd", "40");
  const preview = await project.run(["preview", "--policy-pack", POLICY_PACK]);
  expect(preview.code, preview.output).not.toBe(0);
  expect(preview.output).toContain("base-cost-under-budget");
  expect(preview.output).toContain("mandatory");
  // seed: volume $3.50 + web pod $116.80 (4 vCPU × $0.04/h × 730 h; the emulator's catalog rate) + disk $2.00
  expect(preview.output).toContain("base cost $122.30/month");
  expect(preview.output).toContain("over the budget of $40.00/month (metahuman:budgetMonthlyUsd)");
  expect(preview.output).not.toContain("e2e-session-secret-policy");
});

it("passes within budget, with the advisories it earns", async () => {
  await project.setConfig("budgetMonthlyUsd", "150");
  await project.setConfig("idleTimeout", "120");
  const preview = await project.run(["preview", "--policy-pack", POLICY_PACK]);
  expect(preview.code, preview.output).toBe(0);
  expect(preview.output).toContain("idle-timeout-short");
  expect(preview.output).toContain("metahuman:idleTimeout = 120 s");
  expect(preview.output).not.toContain("network-volume-protected");
  expect(preview.output).not.toContain("execution-timeout-set");
});
