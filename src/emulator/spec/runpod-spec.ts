// RunPod's REST v2 OpenAPI document as the repository keeps it (`runpod-openapi-v2.json`: the official
// document's machine data, made by extract-spec.ts), typed for what the emulator reads of it: its
// operations with their parameters (path-level ones merged, `$ref`s resolved) and its component schemas.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const SPEC_COPY_PATH = join(__dirname, "runpod-openapi-v2.json");

/** The methods an OpenAPI path item can declare. */
export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface Provenance {
  sourceUrl: string;
  /** The file the copy was extracted from, as the project's shared reference names it. */
  extractedFrom: string;
  /** sha256 of that file's bytes. */
  sourceSha256: string;
  /** The day that file was taken (its modification date), YYYY-MM-DD. */
  retrieved: string;
  /** info.version of the document. */
  version: string;
}

/** A JSON Schema inside the document (2020-12, as OpenAPI 3.1 uses). */
export type JsonSchema = { $ref?: string; type?: string | string[]; items?: JsonSchema; [keyword: string]: unknown };

export interface SpecParameter {
  name: string;
  in: "query" | "path" | "header" | "cookie";
  required?: boolean;
  style?: string;
  explode?: boolean;
  schema?: JsonSchema;
}
type Ref = { $ref: string };
type ParameterOrRef = SpecParameter | Ref;

interface SpecOperationObject {
  operationId: string;
  parameters?: ParameterOrRef[];
  requestBody?: { content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, unknown>;
}
type PathItem = { parameters?: ParameterOrRef[] } & Partial<Record<HttpMethod, SpecOperationObject>>;

export interface RunPodSpec {
  "x-provenance": Provenance;
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, JsonSchema>; parameters: Record<string, SpecParameter> };
}

/** One operation of the document, its parameters resolved. */
export interface SpecOperation {
  method: HttpMethod;
  /** The path template, `/v2/pods/{id}`. */
  path: string;
  operationId: string;
  parameters: SpecParameter[];
  /** The `$ref` of its JSON request body's schema, when it takes one. */
  requestSchemaRef?: string;
}

let cached: RunPodSpec | undefined;

/** The in-repo copy, read once. */
export function runpodSpec(): RunPodSpec {
  cached ??= JSON.parse(readFileSync(SPEC_COPY_PATH, "utf8")) as RunPodSpec;
  return cached;
}

export function specOperations(spec: RunPodSpec = runpodSpec()): SpecOperation[] {
  const resolve = (p: ParameterOrRef): SpecParameter => {
    if (!("$ref" in p)) return p;
    const name = p.$ref.replace("#/components/parameters/", "");
    const found = spec.components.parameters[name];
    if (found === undefined) throw new Error(`the spec has no components.parameters.${name}`);
    return found;
  };
  const out: SpecOperation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    const shared = (item.parameters ?? []).map(resolve);
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const own = (operation.parameters ?? []).map(resolve);
      const parameters = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];
      const requestSchemaRef = operation.requestBody?.content["application/json"]?.schema?.$ref;
      out.push({ method, path, operationId: operation.operationId, parameters, ...(requestSchemaRef ? { requestSchemaRef } : {}) });
    }
  }
  return out;
}

/** `/v2/pods/{id}` → `/v2/pods/:id` (Fastify's route syntax). */
export const toRouteUrl = (template: string): string => template.replace(/\{([^}]+)\}/g, ":$1");
