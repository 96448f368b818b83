// The end-to-end suite: the real Pulumi CLI (built by scripts/setup-pulumi.sh) against the local RunPod
// emulator. Its files are named *.e2e.ts so the unit run (vitest.config.ts, *.test.ts) never picks them up.
// One fork, files one after another: each CLI call is a tree of processes (CLI, language host, ts-node,
// dynamic-provider plugin), and running several stacks at once only makes every step slower.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.ts"],
    // The Pulumi CLI, the worker's venv and Chromium must be there, or the run fails saying how to install them.
    globalSetup: ["test/e2e/global-setup.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
