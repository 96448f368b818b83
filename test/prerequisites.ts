// What the test suites need beside the npm packages, checked once before any test runs (vitest globalSetup): a
// missing one fails the whole run with the command that installs it, so no test can skip itself quietly for want
// of it. The unit run (vitest.config.ts) needs the worker's virtualenv (real SDK worker processes), Chromium (the
// chat page) and actionlint (the workflows); the end-to-end run (vitest.e2e.config.ts) needs the Pulumi CLI with
// its Node.js language host and dynamic-provider plugin, the virtualenv and Chromium.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..");

export type Prerequisite = "venv" | "chromium" | "actionlint" | "pulumi" | "metahuman-os";

/** The built MetaHuman OS at the pin (scripts/setup-metahuman-os.sh). */
export const METAHUMAN_OS_APP = path.join(REPO_ROOT, ".tools", "metahuman-os", "app");

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
    } else if (need === "metahuman-os") {
      const entry = path.join(root, ".tools", "metahuman-os", "app", "apps", "site", "dist", "server", "entry.mjs");
      if (!existsSync(entry)) missing.push(`${entry} is missing (MetaHuman OS built at the pin): run \`bash scripts/setup-metahuman-os.sh\` (part of \`bash scripts/setup.sh\`; offline, set METAHUMAN_OS_SOURCE to a checkout or git archive of the pinned commit)`);
    } else {
      for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
        const file = path.join(root, ".tools", "pulumi", "bin", name);
        if (!existsSync(file)) missing.push(`${file} is missing (the Pulumi CLI for the end-to-end tests): run \`bash scripts/setup-pulumi.sh\` (part of \`bash scripts/setup.sh\`)`);
      }
    }
  }
  return missing;
}

/**
 * Run as root, some tests start the web image's command as its unprivileged users (uid 1000 and 65534, as the
 * image does) from this checkout, which the image's world-readable /app allows. Each folder above the checkout
 * must then let other users through (o+x); a `mktemp -d` parent (mode 700) does not. Lists those that don't.
 */
export function foldersClosedToOtherUsers(root = REPO_ROOT): string[] {
  if (process.getuid?.() !== 0) return [];
  const closed: string[] = [];
  for (let dir = root; ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) closed.push(dir);
    if (path.dirname(dir) === dir) return closed;
  }
}

/** Throws one error listing everything missing. */
export function requirePrerequisites(needs: readonly Prerequisite[]): void {
  const closed = foldersClosedToOtherUsers();
  const missing = [
    ...missingPrerequisites(needs),
    ...closed.map((dir) => `${dir} does not let other users through, so the tests that run the web image's command as its unprivileged user cannot reach this checkout: run \`chmod o+x ${dir}\` (.ci/run does) or clone under a folder that others can enter`),
  ];
  if (missing.length > 0) {
    throw new Error(`The tests cannot run: ${missing.length === 1 ? "a prerequisite is" : "prerequisites are"} missing.\n  - ${missing.join("\n  - ")}`);
  }
}

/** globalSetup of the unit run (vitest.config.ts). */
export default function setup(): void {
  requirePrerequisites(["venv", "chromium", "actionlint", "metahuman-os"]);
}
