// Request validation as RunPod does it, from the spec itself (the in-repo copy of RunPod's OpenAPI
// document, spec/runpod-openapi-v2.json): request bodies against the operation's JSON schema (problem+json
// 422, one line per field), query strings against the operation's parameters (problem+json 400). A JSON
// Schema 2020-12 validator compiles the document's own schemas; nothing here restates a rule by hand.
import Ajv2020 from "ajv/dist/2020";
import type { ErrorObject, ValidateFunction } from "ajv";
import { runpodSpec, specOperations, type JsonSchema, type SpecOperation, type SpecParameter } from "./spec/runpod-spec";

const DOCUMENT_ID = "https://emulator.local/runpod-openapi-v2";

/** The request bodies the emulator serves, by their component schema name. */
const REQUEST_SCHEMA_NAMES = [
  "CreateNetworkVolumeRequest",
  "UpdateNetworkVolumeRequest",
  "CreateEndpointRequest",
  "UpdateEndpointRequest",
  "CreatePodRequest",
  "UpdatePodRequest",
  "PodActionRequest",
] as const;
export type RequestSchemaName = (typeof REQUEST_SCHEMA_NAMES)[number];

type BodyValidator = (body: unknown) => string[];

/** One line per failure, in RunPod's style: `$.size: must be <= 4096`. */
export function formatAjvError(error: ErrorObject): string {
  const where = "$" + error.instancePath.replace(/\//g, ".");
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "additionalProperties") return `${where}: additional properties '${String(params.additionalProperty)}' not allowed`;
  if (error.keyword === "unevaluatedProperties") return `${where}: additional properties '${String(params.unevaluatedProperty)}' not allowed`;
  if (error.keyword === "enum") return `${where}: ${error.message} (${(params.allowedValues as unknown[]).join(", ")})`;
  return `${where}: ${error.message}`;
}

/** The leaf failures: `if`/`then` and union wrappers repeat what the leaves already say. */
function leafErrors(errors: ErrorObject[] | null | undefined): string[] {
  const leaves = (errors ?? []).filter((e) => !["if", "not", "anyOf", "oneOf", "allOf"].includes(e.keyword));
  return [...new Set(leaves.map(formatAjvError))];
}

/**
 * Rewrites `if`/`then`/`else` as the equivalent `anyOf: [{not: if}, {allOf: [if, then]}]` (and the
 * `else` branch likewise). Same meaning; needed because Ajv 8 forgets the properties its sibling
 * `allOf` evaluated when a root `if` fails, and then rejects every field under
 * `unevaluatedProperties: false` (CreateEndpointRequest has exactly that shape).
 */
export function rewriteConditionals(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteConditionals);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = rewriteConditionals(inner);
  if (!("if" in out)) return out;
  const { if: condition, then: whenTrue, else: whenFalse, ...rest } = out;
  const branches = [
    whenFalse === undefined ? { not: condition } : { allOf: [{ not: condition }, whenFalse] },
    whenTrue === undefined ? condition : { allOf: [condition, whenTrue] },
  ];
  const previous: unknown[] = Array.isArray(rest.allOf) ? rest.allOf : [];
  return { ...rest, allOf: [...previous, { anyOf: branches }] };
}

// RFC 3339 date-time, as OpenAPI's `format: date-time` means it (Date.parse alone accepts far more).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const isRfc3339 = (s: string): boolean => RFC3339.test(s) && !Number.isNaN(Date.parse(s));

/** An Ajv with the whole document loaded under DOCUMENT_ID, so schemas compile where they stand. */
function specAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat("date-time", isRfc3339);
  // OpenAPI's numeric formats (float, double) and uri are hints for code generators, not constraints here.
  for (const hint of ["float", "double", "uri"]) ajv.addFormat(hint, true);
  ajv.addSchema({ ...(rewriteConditionals(runpodSpec()) as object), $id: DOCUMENT_ID });
  return ajv;
}

export function createBodyValidators(ajv: Ajv2020 = specAjv()): Record<RequestSchemaName, BodyValidator> {
  const make = (name: RequestSchemaName): BodyValidator => {
    const validate = ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`) as ValidateFunction | undefined;
    if (validate === undefined) throw new Error(`no schema ${name} in spec/runpod-openapi-v2.json`);
    return (body) => (validate(body) ? [] : leafErrors(validate.errors));
  };
  return Object.fromEntries(REQUEST_SCHEMA_NAMES.map((name) => [name, make(name)])) as Record<RequestSchemaName, BodyValidator>;
}

type QueryValidator = (query: Record<string, unknown>) => { query: Record<string, unknown>; errors: string[] };

/** The schema a `$ref` points at, inside the document (for coercing a query value to its type). */
function resolveSchema(schema: JsonSchema | undefined): JsonSchema | undefined {
  if (schema?.$ref === undefined) return schema;
  return runpodSpec().components.schemas[schema.$ref.replace("#/components/schemas/", "")];
}

/** A query string value (always text) as the parameter's type, when it is one; else left for the schema to refuse. */
function coerce(raw: unknown, parameter: SpecParameter): unknown {
  const schema = resolveSchema(parameter.schema);
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  if (type === "array") {
    // style form, explode false: `a,b,c`; explode true (the default): the parameter repeated.
    // An empty value is the empty list, except for the data-center filters (queryValidator refuses those by name).
    const items = Array.isArray(raw) ? raw : raw === "" && !DATA_CENTER_FILTERS.has(parameter.name) ? [] : typeof raw === "string" && parameter.explode === false ? raw.split(",") : [raw];
    const itemParameter = { ...parameter, schema: schema?.items };
    return items.map((item) => coerce(item, itemParameter));
  }
  if (typeof raw !== "string") return raw;
  if (type === "integer" && /^-?\d+$/.test(raw)) return Number(raw);
  if (type === "number" && raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}

/** The query validators of every operation in the spec, by `METHOD /path/{template}`. */
export function createQueryValidators(ajv: Ajv2020 = specAjv()): Map<string, QueryValidator> {
  const validators = new Map<string, QueryValidator>();
  for (const operation of specOperations()) validators.set(operationKey(operation), queryValidator(ajv, operation));
  return validators;
}

const operationKey = (operation: Pick<SpecOperation, "method" | "path">): string => `${operation.method.toUpperCase()} ${operation.path}`;

/** listDataCenters' list filters, where an empty value (`regions=`) is refused by name. */
const DATA_CENTER_FILTERS = new Set(["regions", "networkVolumeTypes", "compliance"]);

function queryValidator(ajv: Ajv2020, operation: SpecOperation): QueryValidator {
  const parameters = operation.parameters.filter((p) => p.in === "query");
  // Local `$ref`s point into the document: made absolute so the schema compiles on its own.
  const absolute = (schema: JsonSchema | undefined): unknown =>
    JSON.parse(JSON.stringify(schema ?? {}).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`));
  const validate = ajv.compile({
    type: "object",
    properties: Object.fromEntries(parameters.map((p) => [p.name, absolute(p.schema)])),
    required: parameters.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  });
  const byName = new Map(parameters.map((p) => [p.name, p]));
  const emptyRefused = operation.operationId === "listDataCenters" ? DATA_CENTER_FILTERS : new Set<string>();
  return (query) => {
    const coerced: Record<string, unknown> = {};
    for (const [name, raw] of Object.entries(query)) {
      const parameter = byName.get(name);
      coerced[name] = parameter === undefined ? raw : coerce(raw, parameter);
    }
    // An empty data-center filter (`regions=`) would filter nothing: refused by name (issue 17) rather than ignored.
    // Only these filters: elsewhere RunPod's spec lets an empty list through (`product=`, `include=`), and so do we.
    const empty = Object.entries(coerced).filter(([name, value]) => Array.isArray(value) && byName.has(name) && emptyRefused.has(name) && value.some((v) => v === ""));
    if (empty.length > 0) {
      return {
        query: coerced,
        errors: empty.map(([name]) => {
          const allowed = resolveSchema(resolveSchema(byName.get(name)!.schema)?.items as JsonSchema | undefined)?.enum as unknown[] | undefined;
          return `${name}: an empty value is not allowed; give ${allowed ? `one or more of ${allowed.join(", ")}` : "one or more values"}, or leave ${name} out`;
        }),
      };
    }
    if (validate(coerced)) return { query: coerced, errors: [] };
    const errors = leafErrors(validate.errors).map((line) =>
      line.startsWith("$: additional properties") ? line.replace(/^\$: additional properties '(.*)' not allowed$/, "$1: not a query parameter of this operation") : line.replace(/^\$\./, ""));
    return { query: coerced, errors };
  };
}
