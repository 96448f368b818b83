// `pulumi preview --policy-pack src/infra/policy` with the real CLI against the emulator: a base cost over the
// budget is a mandatory violation that fails the preview, naming the figure and the budget; within budget the
// same stack previews clean (the lead's stack protects the volume and sets the execution timeout).
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { list, PulumiProject, REPO_ROOT, startEmulator, urnName, type RunningEmulator } from "./harness";

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

it("fails the preview when the base cost is over the budget, with figures that agree with the plan and the catalog", async () => {
  await project.setConfig("budgetMonthlyUsd", "40");
  // What the same stack would declare: the plan without the policy pack.
  const plan = await project.previewJson();
  const inputs = (suffix: string) => plan.steps.find((s) => urnName(s.urn).endsWith(suffix))?.newState?.inputs ?? {};
  const volume = inputs("-volume");
  const pod = inputs("-web");

  const preview = await project.run(["preview", "--policy-pack", POLICY_PACK]);
  expect(preview.code, preview.output).not.toBe(0);
  expect(preview.output).toContain("base-cost-under-budget");
  expect(preview.output).toContain("mandatory");
  expect(preview.output).not.toContain("e2e-session-secret-policy");
  const m = /base cost \$(\d+\.\d\d)\/month = volume \$(\d+\.\d\d) \((\d+) GB × \$([\d.]+)\) \+ web pod \$(\d+\.\d\d) \((\d+) vCPU (\S+) × \$([\d.]+)\/h × (\d+) h\) \+ container disk \$(\d+\.\d\d) is over the budget of \$40\.00\/month \(metahuman:budgetMonthlyUsd\)/.exec(preview.output);
  expect(m, preview.output).not.toBeNull();
  const [total, volumeUsd, sizeGb, perGb, podUsd, vcpu, flavor, perVcpuHour, hours, diskUsd] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => m![i]!);
  const n = Number;

  // The message is about this stack: its volume size, its pod's vCPUs and CPU flavor, as the plan declares them.
  expect(n(sizeGb)).toBe(volume.size);
  expect(n(vcpu)).toBe(pod.vcpuCount);
  expect(flavor).toBe(pod.cpuFlavor);
  // The CPU rate is the one RunPod's catalog (here the emulator's) quotes for that flavor: live prices, not the table.
  const cpus = await list(emu, "/v2/catalog/cpus");
  const quoted = cpus.find((c) => String(c.id).split("-")[0] === flavor)?.price?.securePerVcpu;
  expect(quoted, JSON.stringify(cpus)).toBeDefined();
  expect(n(perVcpuHour)).toBeCloseTo(quoted, 6);
  // The arithmetic adds up, and the total is over the budget it names.
  expect(n(volumeUsd)).toBeCloseTo(n(sizeGb) * n(perGb), 2);
  expect(n(podUsd)).toBeCloseTo(n(vcpu) * n(perVcpuHour) * n(hours), 2);
  expect(n(total)).toBeCloseTo(n(volumeUsd) + n(podUsd) + n(diskUsd), 2);
  expect(n(total)).toBeGreaterThan(40);
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
