// The extraction that makes the in-repo copy of RunPod's OpenAPI document: prose goes (descriptions,
// summaries, titles, tags, code samples), machine data stays, including properties that happen to be
// named like prose keywords, and examples' values; a response keeps the empty description OpenAPI requires.
import { expect, it } from "vitest";
import { extractSpec } from "../../src/emulator/spec/extract-spec";

const provenance = { sourceUrl: "https://example.test/openapi.json", extractedFrom: "x.json", sourceSha256: "0".repeat(64), retrieved: "2026-11-30", version: "9" };

it("drops prose and keeps data, by position rather than by key name", () => {
  const official = {
    openapi: "3.1.0",
    info: { title: "Runpod", version: "9", description: "long prose" },
    tags: [{ name: "Pods", description: "prose" }],
    paths: {
      "/v2/things": {
        get: {
          operationId: "listThings", summary: "List", description: "prose", tags: ["Pods"], "x-codeSamples": [{ lang: "sh", source: "curl" }],
          parameters: [{ name: "n", in: "query", description: "prose", schema: { type: "integer", minimum: 1 }, example: 3 }],
          responses: {
            "200": { description: "OK", content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" }, examples: { one: { summary: "prose", value: { summary: "kept", description: "kept too" } } } } } },
            "404": { $ref: "#/components/responses/NotFound" },
          },
        },
      },
    },
    components: {
      schemas: {
        Thing: {
          type: "object", title: "Thing", description: "prose", required: ["summary"],
          properties: { summary: { type: "string", description: "prose", examples: ["a summary"] }, title: { type: "string", default: "t" } },
        },
      },
      responses: { NotFound: { description: "Not found", content: { "application/problem+json": { schema: { type: "object" } } } } },
    },
  };
  expect(extractSpec(official, provenance)).toEqual({
    "x-provenance": provenance,
    openapi: "3.1.0",
    info: { title: "Runpod", version: "9" },
    paths: {
      "/v2/things": {
        get: {
          operationId: "listThings",
          parameters: [{ name: "n", in: "query", schema: { type: "integer", minimum: 1 }, example: 3 }],
          responses: {
            "200": { description: "", content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" }, examples: { one: { value: { summary: "kept", description: "kept too" } } } } } },
            "404": { $ref: "#/components/responses/NotFound" },
          },
        },
      },
    },
    components: {
      schemas: {
        Thing: {
          type: "object", required: ["summary"],
          properties: { summary: { type: "string", examples: ["a summary"] }, title: { type: "string", default: "t" } },
        },
      },
      responses: { NotFound: { description: "", content: { "application/problem+json": { schema: { type: "object" } } } } },
    },
  });
});
