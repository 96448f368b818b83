// Request-body validation as RunPod does it: the spec's own JSON schemas (vendored from the official
// OpenAPI document in spec/request-schemas.json, drift caught by the contract test), checked with a
// JSON Schema 2020-12 validator, failures reported as problem+json 422 with one line per field.
import Ajv2020 from "ajv/dist/2020";
import type { ErrorObject, ValidateFunction } from "ajv";
import requestSchemas from "./spec/request-schemas.json";
import type { RequestSchemaName } from "./spec/extract-request-schemas";

const DOCUMENT_ID = "https://emulator.local/runpod-openapi-v2";

export type BodyValidator = (body: unknown) => string[];

/** One line per failure, in RunPod's style: `$.size: must be <= 4096`. */
export function formatAjvError(error: ErrorObject): string {
  const where = "$" + error.instancePath.replace(/\//g, ".");
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "additionalProperties") return `${where}: additional properties '${String(params.additionalProperty)}' not allowed`;
  if (error.keyword === "unevaluatedProperties") return `${where}: additional properties '${String(params.unevaluatedProperty)}' not allowed`;
  if (error.keyword === "enum") return `${where}: ${error.message} (${(params.allowedValues as unknown[]).join(", ")})`;
  return `${where}: ${error.message}`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Rewrites `if`/`then`/`else` as the equivalent `anyOf: [{not: if}, {allOf: [if, then]}]` (and the
 * `else` branch likewise). Same meaning; needed because Ajv 8 forgets the properties its sibling
 * `allOf` evaluated when a root `if` fails, and then rejects every field under
 * `unevaluatedProperties: false` (CreateEndpointRequest has exactly that shape).
 */
export function rewriteConditionals(value: Json): Json {
  if (Array.isArray(value)) return value.map(rewriteConditionals);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, Json> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = rewriteConditionals(inner);
  if (!("if" in out)) return out;
  const { if: condition, then: whenTrue, else: whenFalse, ...rest } = out;
  const branches: Json[] = [
    whenFalse === undefined ? { not: condition as Json } : { allOf: [{ not: condition as Json }, whenFalse] },
    whenTrue === undefined ? (condition as Json) : { allOf: [condition as Json, whenTrue] },
  ];
  const previous = Array.isArray(rest.allOf) ? rest.allOf : [];
  return { ...rest, allOf: [...previous, { anyOf: branches }] };
}

export function createBodyValidators(): Record<RequestSchemaName, BodyValidator> {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas: rewriteConditionals(requestSchemas as unknown as Json) } });
  const make = (name: RequestSchemaName): BodyValidator => {
    const validate = ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`) as ValidateFunction | undefined;
    if (validate === undefined) throw new Error(`no schema ${name} in spec/request-schemas.json`);
    return (body) => {
      if (validate(body)) return [];
      // `if`/`then` and union wrappers repeat what the leaf errors already say.
      const leaves = (validate.errors ?? []).filter((e) => !["if", "not", "anyOf", "oneOf", "allOf"].includes(e.keyword));
      return [...new Set(leaves.map(formatAjvError))];
    };
  };
  return {
    CreateNetworkVolumeRequest: make("CreateNetworkVolumeRequest"),
    UpdateNetworkVolumeRequest: make("UpdateNetworkVolumeRequest"),
    CreateEndpointRequest: make("CreateEndpointRequest"),
    UpdateEndpointRequest: make("UpdateEndpointRequest"),
    CreatePodRequest: make("CreatePodRequest"),
    UpdatePodRequest: make("UpdatePodRequest"),
    PodActionRequest: make("PodActionRequest"),
  };
}
