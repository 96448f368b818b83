// What the test suites need beside the npm packages, checked once before any test runs (vitest globalSetup): a
// missing one fails the whole run with the command that installs it, so no test can skip itself quietly for want
// of it. The unit run (vitest.config.ts) needs the worker's virtualenv (real SDK worker processes), Chromium (the
// chat page) and actionlint (the workflows); the end-to-end run (vitest.e2e.config.ts) needs the Pulumi CLI with
// its Node.js language host and dynamic-provider plugin, the virtualenv and Chromium.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..");

export type Prerequisite = "venv" | "chromium" | "actionlint" | "pulumi";

/** Chromium as the browser tests launch it. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH ?? "/usr/bin/chromium";
}

/** One line per missing prerequisite: what is missing and how to install it. Empty when all are there. */
export function missingPrerequisites(needs: readonly Prerequisite[], root = REPO_ROOT, env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  for (const need of needs) {
    if (need === "venv") {
      const python = path.join(root, ".venv", "bin", "python");
      if (!existsSync(python)) {
        missing.push(`${python} is missing (the worker's virtualenv with the RunPod SDK): run \`bash scripts/setup-python.sh\` (part of \`bash scripts/setup.sh\`)`);
      } else if (spawnSync(python, ["-c", "import runpod"], { stdio: "ignore", timeout: 60_000 }).status !== 0) {
        missing.push(`${python} cannot import the RunPod SDK: run \`bash scripts/setup-python.sh\` again (it installs handler/requirements-dev.txt)`);
      }
    } else if (need === "chromium") {
      const chromium = chromiumPath(env);
      if (!existsSync(chromium)) {
        missing.push(`Chromium is missing at ${chromium} (the browser tests): install Debian's package (\`sudo apt-get install chromium\`; \`bash scripts/setup.sh\` does it as root) or set CHROMIUM_PATH`);
      }
    } else if (need === "actionlint") {
      const actionlint = path.join(root, ".tools", "bin", "actionlint");
      if (!existsSync(actionlint)) missing.push(`${actionlint} is missing (the workflow lint): run \`bash scripts/setup-actionlint.sh\` (part of \`bash scripts/setup.sh\`)`);
    } else {
      for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
        const file = path.join(root, ".tools", "pulumi", "bin", name);
        if (!existsSync(file)) missing.push(`${file} is missing (the Pulumi CLI for the end-to-end tests): run \`bash scripts/setup-pulumi.sh\` (part of \`bash scripts/setup.sh\`)`);
      }
    }
  }
  return missing;
}

/** Throws one error listing everything missing. */
export function requirePrerequisites(needs: readonly Prerequisite[]): void {
  const missing = missingPrerequisites(needs);
  if (missing.length > 0) {
    throw new Error(`The tests cannot run: ${missing.length === 1 ? "a prerequisite is" : "prerequisites are"} missing.\n  - ${missing.join("\n  - ")}`);
  }
}

/** globalSetup of the unit run (vitest.config.ts). */
export default function setup(): void {
  requirePrerequisites(["venv", "chromium", "actionlint"]);
}
