import os from "node:os";
import { defineConfig } from "vitest/config";

// vitest's own default is one fork fewer than the cores: a single fork on a 2-core machine, which then waits for
// every worker process, browser and schemathesis run one file at a time. Many files wait more than they compute, so
// three forks run at once on 2 cores, beside pytest and the e2e suite (scripts/test.sh); VITEST_FORKS sets how many.
const forks = Number(process.env.VITEST_FORKS) || Math.max(3, os.availableParallelism() + 1);

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The worker's venv, Chromium and actionlint must be there: a missing one fails the run saying how to install
    // it, instead of tests skipping themselves.
    globalSetup: ["test/prerequisites.ts"],
    // Pulumi keeps runtime state on a global: each file runs in its own fork.
    pool: "forks",
    poolOptions: { forks: { minForks: 1, maxForks: forks } },
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
