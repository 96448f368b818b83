// Regenerates `request-schemas.json`: the request-body schemas the emulator validates against, taken
// from the official RunPod REST v2 spec (with every schema they reference), descriptions and examples
// dropped. The contract test fails when this copy and the spec drift apart.
//   npx tsx src/emulator/spec/extract-request-schemas.ts [path/to/runpod-openapi-v2.json]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { locateSpec } from "./locate-spec";

/** The request bodies the emulator serves, by operation: `METHOD path` → component schema name. */
export const REQUEST_SCHEMA_NAMES = [
  "CreateNetworkVolumeRequest",
  "UpdateNetworkVolumeRequest",
  "CreateEndpointRequest",
  "UpdateEndpointRequest",
  "CreatePodRequest",
  "UpdatePodRequest",
  "PodActionRequest",
] as const;
export type RequestSchemaName = (typeof REQUEST_SCHEMA_NAMES)[number];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function strip(value: Json): Json {
  if (Array.isArray(value)) return value.map(strip);
  if (value && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [key, inner] of Object.entries(value)) {
      // Documentation only; `discriminator` is an OpenAPI keyword that plain JSON Schema validators reject.
      if (key === "description" || key === "examples" || key === "example" || key === "discriminator") continue;
      if (key.startsWith("x-")) continue;
      out[key] = strip(inner);
    }
    return out;
  }
  return value;
}

/** The named component schemas plus everything they reference, stripped of documentation. */
export function extractRequestSchemas(spec: { components: { schemas: Record<string, Json> } }): Record<string, Json> {
  const all = spec.components.schemas;
  const out: Record<string, Json> = {};
  const pending: string[] = [...REQUEST_SCHEMA_NAMES];
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (name in out) continue;
    const schema = all[name];
    if (schema === undefined) throw new Error(`spec has no components.schemas.${name}`);
    out[name] = strip(schema);
    for (const match of JSON.stringify(schema).matchAll(/"#\/components\/schemas\/([A-Za-z0-9_]+)"/g)) {
      pending.push(match[1] as string);
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

if (require.main === module) {
  const specPath = process.argv[2] ?? locateSpec();
  const spec = JSON.parse(readFileSync(specPath, "utf8"));
  const target = join(__dirname, "request-schemas.json");
  writeFileSync(target, JSON.stringify(extractRequestSchemas(spec), null, 1) + "\n");
  console.log(`wrote ${target} from ${specPath}`);
}
