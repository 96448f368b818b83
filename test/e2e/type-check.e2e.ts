// Pulumi's Node.js runtime type-checks the program (ts-node with the repository's tsconfig.json) before it runs it,
// for a user, in the workflows and in this suite alike: a type error that `tsc --noEmit` might not see the same way
// fails `pulumi preview`. Here a project whose entry point is the real program plus one type error must fail to
// preview with the compiler's message, and the same project without the error must preview.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PulumiProject, startEmulator, type RunningEmulator } from "./harness";

let emu: RunningEmulator;
let project: PulumiProject;

beforeAll(async () => {
  emu = await startEmulator();
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  await project.setConfig("sessionSecret", "e2e-session-secret-type-check", { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

async function useEntryPoint(source: string): Promise<void> {
  await writeFile(path.join(project.projectDir, "probe.ts"), source);
  const yaml = await readFile(path.join(project.projectDir, "Pulumi.yaml"), "utf8");
  await writeFile(path.join(project.projectDir, "Pulumi.yaml"), yaml.replace(/^main: .*$/m, "main: probe.ts"));
}

it("fails the preview on a type error in the program, with the compiler's message", async () => {
  await useEntryPoint(`export * from "./src/index";\nexport const probe: number = "not a number";\n`);
  const preview = await project.run(["preview"]);
  expect(preview.code, preview.output).not.toBe(0);
  expect(preview.output).toContain("Unable to compile TypeScript");
  expect(preview.output).toMatch(/probe\.ts\(2,14\): error TS2322/);
});

it("previews the same entry point once the error is gone", async () => {
  await useEntryPoint(`export * from "./src/index";\nexport const probe: number = 42;\n`);
  const preview = await project.run(["preview"]);
  expect(preview.code, preview.output).toBe(0);
  expect(preview.output).toContain("probe");
});
