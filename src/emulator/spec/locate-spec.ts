// Where the official RunPod REST v2 spec lives: `RUNPOD_OPENAPI_SPEC` if set, else
// `../shared/reference/runpod-openapi-v2.json` beside the repository (the spec is not vendored whole).
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export function locateSpec(env: NodeJS.ProcessEnv = process.env): string {
  const repoRoot = resolve(__dirname, "..", "..", "..");
  const path = env.RUNPOD_OPENAPI_SPEC ?? resolve(repoRoot, "..", "shared", "reference", "runpod-openapi-v2.json");
  if (!existsSync(path)) {
    throw new Error(
      `RunPod OpenAPI spec not found at ${path}: set RUNPOD_OPENAPI_SPEC to the path of runpod-openapi-v2.json`,
    );
  }
  return path;
}
