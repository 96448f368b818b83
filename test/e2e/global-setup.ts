// globalSetup of the end-to-end run (vitest.e2e.config.ts): the Pulumi CLI, the worker's virtualenv (the local stack
// starts real SDK workers) and Chromium (the page in the local stack) must be there, or the run fails saying how to
// install them.
import { requirePrerequisites } from "../prerequisites";

export default function setup(): void {
  requirePrerequisites(["pulumi", "venv", "chromium"]);
}
