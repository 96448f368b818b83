import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The worker's venv, Chromium and actionlint must be there: a missing one fails the run saying how to install
    // it, instead of tests skipping themselves.
    globalSetup: ["test/prerequisites.ts"],
    // Pulumi keeps runtime state on a global: each file runs in its own fork.
    pool: "forks",
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
