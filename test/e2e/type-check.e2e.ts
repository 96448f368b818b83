// How Pulumi's Node.js runtime runs the program: ts-node, started in src/ (Pulumi.yaml's `main`), with src/tsconfig.json,
// which extends the repository's compiler options and tells ts-node to transpile only. The type check is
// `npm run typecheck` (test/infra/pulumi-runtime-options.test.ts checks that it covers every file the program reaches);
// a preview no longer repeats it. Here a project whose entry point is the real program plus one probe line shows what
// the runtime does with it, through the real CLI and language host.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
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

// The probe gets a folder of its own beside src/, with a copy of src/tsconfig.json, so the runtime starts it the way it
// starts src/index.ts (in the entry point's folder, reading the tsconfig.json there).
async function useEntryPoint(source: string): Promise<void> {
  const probeDir = path.join(project.projectDir, "probe");
  await mkdir(probeDir, { recursive: true });
  await writeFile(path.join(probeDir, "probe.ts"), source);
  await copyFile(path.join(project.projectDir, "src", "tsconfig.json"), path.join(probeDir, "tsconfig.json"));
  const yaml = await readFile(path.join(project.projectDir, "Pulumi.yaml"), "utf8");
  await writeFile(path.join(project.projectDir, "Pulumi.yaml"), yaml.replace(/^main: .*$/m, "main: probe/probe.ts"));
}

it("runs the program with the repository's compiler options and does not repeat the type check", async () => {
  // The repository's target (ES2022) defines class fields (useDefineForClassFields): a subclass's bare field
  // declaration resets what the parent's constructor set. The runtime's defaults without a tsconfig.json (ES2020)
  // assign instead, and the parent's value would survive.
  await useEntryPoint(
    `export * from "../src/index";\n` +
      `class Parent { field: string | undefined; constructor() { this.field = "parent"; } }\n` +
      `class Child extends Parent { declare readonly marker: never; override field?: string; }\n` +
      `export const fieldSemantics = new Child().field === undefined ? "define" : "assign";\n` +
      `export const typeErrorNotChecked: number = "tsc reports this; the runtime does not";\n`,
  );
  const preview = await project.run(["preview"]);
  expect(preview.code, preview.output).toBe(0);
  expect(preview.output).toMatch(/fieldSemantics\s*:\s*"define"/);
  expect(preview.output).not.toContain("Unable to compile TypeScript");
});

it("fails the preview on a syntax error, with the compiler's message", async () => {
  await useEntryPoint(`export * from "../src/index";\nexport const probe: number = (1 + ;\n`);
  const preview = await project.run(["preview"]);
  expect(preview.code, preview.output).not.toBe(0);
  expect(preview.output).toMatch(/probe\.ts\(2,\d+\): error TS1109|Expression expected/);
});
