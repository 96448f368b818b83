// Contract test: the client's requests and the emulator's answers, checked against RunPod's REST v2
// OpenAPI document (the in-repo copy of its machine data, src/emulator/spec/runpod-openapi-v2.json, made by
// extract-spec.ts from the official document). Every request body the client sends must satisfy the
// operation's request schema; every answer (status, body) must be one the operation declares, with a body
// valid against its schema.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractSpec } from "../../src/emulator/spec/extract-spec";
import { SPEC_COPY_PATH } from "../../src/emulator/spec/runpod-spec";
import { formatAjvError, rewriteConditionals } from "../../src/emulator/rest-validation";
import { startRestEmulator, API_KEY, type RestEmulator } from "../runpod/fixture";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const spec: any = JSON.parse(readFileSync(SPEC_COPY_PATH, "utf8"));
const SPEC_ID = "https://spec.local/runpod-openapi-v2";

interface Exchange {
  method: string;
  path: string;
  requestBody?: unknown;
  status: number;
  responseBody?: unknown;
}

function operationFor(method: string, path: string): { template: string; operation: any } {
  for (const [template, item] of Object.entries<any>(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    const operation = item[method.toLowerCase()];
    if (operation && pattern.test(path)) return { template, operation };
  }
  throw new Error(`the spec has no operation ${method} ${path}`);
}

function resolveRef(node: any): any {
  if (node && typeof node.$ref === "string") {
    const parts = node.$ref.replace(/^#\//, "").split("/");
    return resolveRef(parts.reduce((at: any, key: string) => at[key], spec));
  }
  return node;
}

let ajv: Ajv2020;
function validate(pointer: string, value: unknown): string[] {
  const check = ajv.getSchema(`${SPEC_ID}#${pointer}`);
  if (!check) throw new Error(`no schema at ${pointer}`);
  return check(value) ? [] : (check.errors ?? []).filter((e) => !["if", "not", "anyOf", "oneOf", "allOf"].includes(e.keyword)).map(formatAjvError);
}

/** JSON pointer of a schema inside the spec document, for ajv to compile in place. */
function schemaPointer(template: string, method: string, where: "request" | { status: number }, contentType: string): string | undefined {
  const escape = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");
  const base = `/paths/${escape(template)}/${method.toLowerCase()}`;
  const operation = spec.paths[template][method.toLowerCase()];
  if (where === "request") {
    return operation.requestBody ? `${base}/requestBody/content/${escape(contentType)}/schema` : undefined;
  }
  const key = String(where.status) in operation.responses ? String(where.status) : "default";
  const response = operation.responses[key];
  if (response.$ref) {
    const name = response.$ref.split("/").pop();
    return resolveRef(response).content?.[contentType] ? `/components/responses/${name}/content/${escape(contentType)}/schema` : undefined;
  }
  return response.content?.[contentType] ? `${base}/responses/${key}/content/${escape(contentType)}/schema` : undefined;
}

let emu: RestEmulator;
const exchanges: Exchange[] = [];

beforeAll(async () => {
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...(rewriteConditionals(spec) as object), $id: SPEC_ID });
  emu = await startRestEmulator();
  // Everything the client sends and receives passes through here.
  const recordingFetch: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const response = await fetch(input, init);
    const text = await response.clone().text();
    exchanges.push({
      method: init?.method ?? "GET",
      path: url.pathname,
      requestBody: init?.body ? JSON.parse(String(init.body)) : undefined,
      status: response.status,
      responseBody: text ? JSON.parse(text) : undefined,
    });
    return response;
  };
  const client = emu.client({ fetch: recordingFetch, maxRetries: 0 });
  const bad = emu.client({ fetch: recordingFetch, maxRetries: 0, apiKey: "not-the-key" });
  const ignore = () => undefined;

  const volume = await client.networkVolumes.create({ name: "c", size: 20, dataCenter: "US-KS-2", type: "HIGH_PERFORMANCE" });
  await client.networkVolumes.update(volume.id, { size: 40 });
  const endpoint = await client.endpoints.create({
    name: "llm", type: "QUEUE", image: "w:1", env: { A: "1" }, gpu: { pools: ["ADA_24"], count: 1 },
    workers: { min: 0, max: 2, idleTimeout: 5 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 }, flashboot: "FLASHBOOT",
    networkVolumes: [volume.id], dataCenterIds: ["US-KS-2"], timeout: 120_000,
  });
  await client.endpoints.update(endpoint.id, { workers: { min: 0, max: 3, idleTimeout: 5 }, scaling: { type: "REQUEST_COUNT", requestCount: 2 } });
  await client.endpoints.get(endpoint.id);
  const pod = await client.pods.create({
    name: "web", image: "web:1", env: { PORT: "4321" }, ports: ["4321/http"], disk: 20, cloud: "SECURE",
    cpu: { id: "cpu3g", vcpuCount: 4 }, dataCenterIds: ["US-KS-2"], mounts: { network: [{ volumeId: volume.id, path: "/runpod-volume" }] },
  });
  await client.pods.update(pod.id, { env: { PORT: "4321", X: "y" } });
  await client.pods.action(pod.id, "stop");
  await client.pods.get(pod.id);
  await client.catalog.gpus();
  await client.catalog.cpus();
  await client.catalog.datacenters();
  // Errors: 422, 400, 404, 401.
  await client.networkVolumes.create({ name: "", size: 1, dataCenter: "US-KS-2" }).catch(ignore);
  await client.networkVolumes.update(volume.id, { size: 10 }).catch(ignore);
  await client.pods.get("doesnotexist").catch(ignore);
  await bad.catalog.gpus().catch(ignore);
  await client.pods.delete(pod.id);
  await client.endpoints.delete(endpoint.id);
  await client.networkVolumes.delete(volume.id);
});
afterAll(async () => emu.close());

describe("the in-repo copy of RunPod's OpenAPI document", () => {
  it("says where it came from: RunPod's URL, the source file's sha256, the day and the version", () => {
    expect(spec["x-provenance"]).toEqual({
      sourceUrl: "https://api.runpod.io/v2/openapi.json",
      extractedFrom: "runpod-openapi-v2.json",
      sourceSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      retrieved: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      version: spec.info.version,
    });
  });

  it("is the extraction's own output (nothing added or edited by hand), with no prose left", () => {
    const { "x-provenance": provenance, ...document } = spec;
    expect(extractSpec(document, provenance)).toEqual(spec);
    const prose: string[] = [];
    const walk = (node: unknown, path: string, inNames: boolean) => {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${path}/${i}`, false));
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (!inNames && ["summary", "externalDocs", "x-codeSamples"].includes(key)) prose.push(`${path}/${key}`);
          if (!inNames && key === "description" && value !== "") prose.push(`${path}/${key}`);
          if (["example", "examples", "default", "enum", "const", "value"].includes(key)) continue;
          walk(value, `${path}/${key}`, !inNames && ["properties", "paths", "schemas", "responses", "parameters", "content", "headers"].includes(key) && !Array.isArray(value));
        }
      }
    };
    walk(spec, "", false);
    expect(prose).toEqual([]);
    // The operations RunPod declares (53 in version 2.0.0) are all there.
    const operations = Object.values<Record<string, unknown>>(spec.paths).flatMap((item) => Object.keys(item).filter((k) => k !== "parameters"));
    expect(operations.length).toBeGreaterThanOrEqual(53);
  });
});

describe("client ↔ emulator traffic against the spec", () => {
  it("covered the operations the stack uses, and the error statuses", () => {
    const seen = new Set(exchanges.map((e) => `${e.method} ${operationFor(e.method, e.path).template} ${e.status}`));
    for (const expected of [
      "POST /v2/network-volumes 201", "PATCH /v2/network-volumes/{id} 200", "DELETE /v2/network-volumes/{id} 204",
      "POST /v2/serverless 201", "PATCH /v2/serverless/{id} 200",
      "POST /v2/pods 201", "PATCH /v2/pods/{id} 200", "POST /v2/pods/{id}/action 200", "DELETE /v2/pods/{id} 204",
      "GET /v2/catalog/gpus 200", "GET /v2/catalog/cpus 200", "GET /v2/catalog/datacenters 200",
      "POST /v2/network-volumes 422", "PATCH /v2/network-volumes/{id} 400", "GET /v2/pods/{id} 404", "GET /v2/catalog/gpus 401",
    ]) expect(seen).toContain(expected);
  });

  it("every request body the client sent satisfies the operation's request schema", () => {
    const failures: string[] = [];
    for (const exchange of exchanges) {
      if (exchange.requestBody === undefined || exchange.status === 422) continue;
      const { template } = operationFor(exchange.method, exchange.path);
      const pointer = schemaPointer(template, exchange.method, "request", "application/json");
      expect(pointer, `${exchange.method} ${template} takes no body`).toBeDefined();
      for (const error of validate(pointer as string, exchange.requestBody)) failures.push(`${exchange.method} ${template}: ${error}`);
    }
    expect(failures).toEqual([]);
  });

  it("every answer is a declared status with a body valid against its schema", () => {
    const failures: string[] = [];
    for (const exchange of exchanges) {
      const { template, operation } = operationFor(exchange.method, exchange.path);
      const declared = Object.keys(operation.responses);
      if (!declared.includes(String(exchange.status)) && !declared.includes("default")) {
        failures.push(`${exchange.method} ${template}: status ${exchange.status} not declared`);
        continue;
      }
      if (exchange.responseBody === undefined) {
        if (exchange.status !== 204) failures.push(`${exchange.method} ${template}: ${exchange.status} without a body`);
        continue;
      }
      const type = exchange.status >= 400 ? "application/problem+json" : "application/json";
      const pointer = schemaPointer(template, exchange.method, { status: exchange.status }, type);
      if (pointer === undefined) {
        failures.push(`${exchange.method} ${template} ${exchange.status}: the spec declares no ${type} body`);
        continue;
      }
      for (const error of validate(pointer, exchange.responseBody)) failures.push(`${exchange.method} ${template} ${exchange.status}: ${error}`);
    }
    expect(failures).toEqual([]);
  });

  it("the emulator rejects what the spec rejects (additionalProperties false) and accepts the spec's examples", async () => {
    const example = spec.paths["/v2/network-volumes"].post.requestBody.content["application/json"].examples.networkVolume.value;
    expect((await emu.call("POST", "/v2/network-volumes", example)).status).toBe(201);
    const extra = await emu.call("POST", "/v2/network-volumes", { ...example, bogus: true });
    expect(extra.status).toBe(422);
    expect(validate("/components/schemas/ErrorResponse", extra.body)).toEqual([]);
    expect(extra.body.errors).toContain("$: additional properties 'bogus' not allowed");
    expect((await emu.call("GET", "/v2/pods", undefined, null)).status).toBe(401);
    expect((await emu.call("GET", "/v2/pods", undefined, API_KEY)).status).toBe(200);
  });
});
