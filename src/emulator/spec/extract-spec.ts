// Makes `runpod-openapi-v2.json` beside this file: RunPod's official REST v2 OpenAPI document as machine
// data only (operations, parameters, request and response schemas, examples' values), without RunPod's
// prose (descriptions, summaries, titles, tags, code samples), with where it came from in `x-provenance`.
// The emulator validates request bodies with it, the contract tests and schemathesis read it, and no test
// needs the official document itself.
//   npx tsx src/emulator/spec/extract-spec.ts path/to/runpod-openapi-v2.json          rewrite the copy
//   npx tsx src/emulator/spec/extract-spec.ts --check path/to/runpod-openapi-v2.json  exit 1 when it drifted
// The source is the path given, or RUNPOD_OPENAPI_SPEC: download it from SOURCE_URL first.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { SPEC_COPY_PATH, type Provenance } from "./runpod-spec";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Where RunPod publishes the document (its v1 → v2 migration guide). */
const SOURCE_URL = "https://api.runpod.io/v2/openapi.json";


// Prose: what a person reads, not what a validator or a fuzzer uses.
const PROSE = new Set(["description", "summary", "title", "tags", "externalDocs"]);
// Keywords whose value is a map from names (properties, status codes, media types...) to objects.
const NAME_MAPS = new Set([
  "properties", "patternProperties", "$defs", "dependentSchemas", "paths", "responses", "content", "headers",
  "schemas", "securitySchemes", "encoding", "links", "callbacks", "requestBodies", "parameters", "examples",
]);
// Keywords whose value is data (copied as it is, never walked).
const DATA = new Set(["example", "default", "const", "enum", "value", "required", "mapping", "examples", "security"]);

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** An object whose keys are OpenAPI or JSON Schema keywords. */
function keywords(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-")) continue;
    if (PROSE.has(key)) continue;
    if (NAME_MAPS.has(key) && isObject(value)) out[key] = names(value, key === "responses");
    else if (DATA.has(key)) out[key] = value;
    else out[key] = walk(value);
  }
  return out;
}

/** A map from names to keyword objects (an OpenAPI Example map holds `{value}` objects). */
function names(node: JsonObject, responses: boolean): JsonObject {
  const out: JsonObject = {};
  for (const [name, value] of Object.entries(node)) {
    if (!isObject(value)) out[name] = value;
    // OpenAPI requires a response's description: kept, emptied.
    else out[name] = responses && !("$ref" in value) ? { description: "", ...keywords(value) } : keywords(value);
  }
  return out;
}

function walk(value: Json): Json {
  if (Array.isArray(value)) return value.map(walk);
  return isObject(value) ? keywords(value) : value;
}

/** The machine data of the official document, with its provenance. */
export function extractSpec(spec: JsonObject, provenance: Provenance): JsonObject {
  const info = isObject(spec.info) ? spec.info : {};
  const { info: _info, tags: _tags, ...rest } = spec;
  return {
    "x-provenance": { ...provenance },
    ...keywords(rest),
    info: { title: info.title ?? "", version: info.version ?? "" },
  };
}

/** Reads the official document and returns the copy's text (what `runpod-openapi-v2.json` holds). */
function extractFromFile(path: string, mtime: Date): string {
  const bytes = readFileSync(path);
  const spec = JSON.parse(bytes.toString("utf8")) as JsonObject;
  const version = isObject(spec.info) && typeof spec.info.version === "string" ? spec.info.version : "";
  const provenance: Provenance = {
    sourceUrl: SOURCE_URL,
    extractedFrom: basename(path),
    sourceSha256: createHash("sha256").update(bytes).digest("hex"),
    retrieved: mtime.toISOString().slice(0, 10),
    version,
  };
  return JSON.stringify(extractSpec(spec, provenance), null, 1) + "\n";
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const source = args.find((a) => a !== "--check") ?? process.env.RUNPOD_OPENAPI_SPEC;
  if (source === undefined || !existsSync(source)) {
    const where = source === undefined ? "no path given" : `not found at ${source}`;
    console.error(`RunPod's OpenAPI document: ${where}. Download it from ${SOURCE_URL}, then pass its path (or set RUNPOD_OPENAPI_SPEC).`);
    process.exit(2);
  }
  const current = existsSync(SPEC_COPY_PATH) ? readFileSync(SPEC_COPY_PATH, "utf8") : "";
  const sha = createHash("sha256").update(readFileSync(source)).digest("hex");
  if (check) {
    // Compare without the retrieval date: the same bytes extracted on another day are no drift.
    const recorded = (JSON.parse(current || "{}") as { "x-provenance"?: Provenance })["x-provenance"];
    const fresh = extractFromFile(source, new Date(recorded?.retrieved ?? Date.now()));
    if (fresh !== current) {
      console.error(`${SPEC_COPY_PATH} differs from the extraction of ${source} (sha256 ${sha}); rerun without --check`);
      process.exit(1);
    }
    console.log(`${SPEC_COPY_PATH} matches ${source} (sha256 ${sha})`);
  } else {
    writeFileSync(SPEC_COPY_PATH, extractFromFile(source, statSync(source).mtime));
    console.log(`wrote ${SPEC_COPY_PATH} from ${source} (sha256 ${sha})`);
  }
}
