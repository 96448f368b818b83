// The end-to-end suite: the real Pulumi CLI (built by scripts/setup-pulumi.sh) against the local RunPod
// emulator. Its files are named *.e2e.ts so the unit run (vitest.config.ts, *.test.ts) never picks them up.
// Files run in parallel, each in its own fork: they share nothing (each starts its own emulator on a free loopback
// port and gives every Pulumi project its own temporary folder with the `file://` backend and PULUMI_HOME; the
// local stacks take free ports and data folders of their own; README's steps run in a network namespace of their
// own where the machine allows, else on 8787, which no other file uses). Inside a file the steps build on each
// other and stay in order. A CLI call is a tree of processes that mostly waits (the engine, the emulator, the
// workers' cold starts) between bursts of ts-node's type check, so on 2 cores three files at once finish sooner
// than one; E2E_FORKS sets how many.
import os from "node:os";
import { defineConfig } from "vitest/config";

const forks = Number(process.env.E2E_FORKS) || Math.max(3, Math.ceil(os.availableParallelism() * 0.75));

export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.ts"],
    // The Pulumi CLI, the worker's venv and Chromium must be there, or the run fails saying how to install them.
    globalSetup: ["test/e2e/global-setup.ts"],
    pool: "forks",
    poolOptions: { forks: { minForks: 1, maxForks: forks } },
    fileParallelism: true,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
