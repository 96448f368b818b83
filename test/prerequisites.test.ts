// The check that runs before every test run (test/prerequisites.ts): a missing tool is reported with the command
// that installs it, so a run without it fails instead of skipping tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { missingPrerequisites } from "./prerequisites";

const empty = mkdtempSync(path.join(tmpdir(), "prereq-"));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe("prerequisites", () => {
  it("names each missing tool and how to install it", () => {
    const missing = missingPrerequisites(["venv", "chromium", "actionlint", "pulumi", "metahuman-os"], empty, { CHROMIUM_PATH: path.join(empty, "chromium") });
    const text = missing.join("\n");
    expect(missing).toHaveLength(7); // venv, chromium, actionlint, the CLI's three files, MetaHuman OS
    expect(text).toContain("bash scripts/setup-metahuman-os.sh");
    expect(text).toContain(`${path.join(empty, ".venv", "bin", "python")} is missing`);
    expect(text).toContain("bash scripts/setup-python.sh");
    expect(text).toContain("apt-get install chromium");
    expect(text).toContain("bash scripts/setup-actionlint.sh");
    expect(text).toContain("pulumi-language-nodejs is missing");
    expect(text).toContain("bash scripts/setup-pulumi.sh");
  });

  it("finds them where setup puts them", () => {
    for (const file of [".tools/metahuman-os/app/apps/site/dist/server/entry.mjs", ".tools/bin/actionlint", ".tools/pulumi/bin/pulumi", ".tools/pulumi/bin/pulumi-language-nodejs", ".tools/pulumi/bin/pulumi-resource-pulumi-nodejs", "chromium"]) {
      mkdirSync(path.dirname(path.join(empty, file)), { recursive: true });
      writeFileSync(path.join(empty, file), "");
    }
    expect(missingPrerequisites(["chromium", "actionlint", "pulumi", "metahuman-os"], empty, { CHROMIUM_PATH: path.join(empty, "chromium") })).toEqual([]);
  });
});
