// RunPod's own OpenAPI document against the emulator's REST v2, by schemathesis (PyPI, installed into .venv by
// scripts/setup-python.sh): every operation of the in-repo copy (src/emulator/spec/runpod-openapi-v2.json),
// all checks on, all four phases (the spec's examples, coverage, fuzzing, stateful), a fixed seed and a
// bounded number of examples per operation, each answer within --max-response-time (a request that blocks
// the event loop fails it). The emulator runs in this process on loopback; schemathesis in its own.
// Where the config below widens a check, it says which RunPod rule makes the answer right.
import { execFile } from "node:child_process";
import { request, type IncomingHttpHeaders } from "node:http";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOG_CPUS, CATALOG_DATACENTERS, CATALOG_GPUS } from "../../src/emulator/catalog-data";
import { buildEmulator } from "../../src/emulator/emulator";
import { SPEC_COPY_PATH, specOperations } from "../../src/emulator/spec/runpod-spec";
import { createRunPodRestClient } from "../../src/runpod/rest";

const KEY = "schemathesis-key";
const SCHEMATHESIS = resolve(".venv/bin/schemathesis");
/** Examples per operation and phase; with the coverage phase this is about 4 000 requests in all. */
const MAX_EXAMPLES = 8;
/** Examples for the operations that create or change a resource (CREATE_AND_UPDATE). */
const MAX_EXAMPLES_CREATE = 40;
const SEED = 20261130;
/** The bound on the whole run (seconds): past it the run is killed and the test fails. It takes about 50 s. */
const MAX_TIME_S = 240;

/** What the emulator serves of RunPod's REST v2; the spec's other operations answer 501. */
const EMULATED = [
  "listNetworkVolumes", "createNetworkVolume", "getNetworkVolume", "updateNetworkVolume", "deleteNetworkVolume",
  "listEndpoints", "createEndpoint", "getEndpoint", "updateEndpoint", "deleteEndpoint", "listEndpointWorkers",
  "listPods", "createPod", "getPod", "updatePod", "deletePod", "podAction",
  "listGpuTypes", "getGpuType", "listCpuTypes", "getCpuType", "listDataCenters", "getDataCenter",
  "listPodBilling", "listServerlessBilling", "listNetworkVolumeBilling",
];
const notEmulated = specOperations().filter((op) => !EMULATED.includes(op.operationId));

/**
 * Operations where a schema-valid request may get 400: RunPod's rules across fields and against what exists
 * (a catalog id or data center that does not exist, a volume that cannot shrink, lastN together with
 * startTime, a malformed port string, templates the emulator does not keep). The spec declares 400 for them.
 */
const RULES_BEYOND_THE_SCHEMA = [
  // listDataCenters: an empty filter (`regions=`, an empty list the schema allows) is refused by name, the emulator's
  // own choice (issue 17): RunPod's page does not say what it does, and a filter that filters nothing hides a mistake.
  "listDataCenters",
  "createNetworkVolume", "updateNetworkVolume", "createEndpoint", "updateEndpoint", "createPod", "updatePod",
  "listPodBilling", "listServerlessBilling", "listNetworkVolumeBilling",
];
const CREATE_AND_UPDATE = ["createNetworkVolume", "updateNetworkVolume", "createEndpoint", "updateEndpoint", "createPod", "updatePod", "podAction"];
/**
 * RunPod's own answers violate `format: uri` in EndpointRequestUrls: `status` is a template,
 * `https://api.runpod.ai/v2/{id}/status/{job_id}` (the spec's example), and braces are not URI characters.
 */
const URL_TEMPLATES = ["listEndpoints", "createEndpoint", "getEndpoint", "updateEndpoint"];

/**
 * Values the emulator knows, drawn often in place of random text where a field names something that must
 * exist (a CPU flavor, GPU type or pool, data center, resource id) or has a form the schema does not state
 * (a port string), so that generated requests also get past RunPod's "does not exist" rules and reach the
 * code behind them (a created pod's runtime ports, a billed volume, a PATCH of a real endpoint).
 */
function dictionaries(ids: string[]): Record<string, { values: string[]; bindings: string[] }> {
  return {
    cpus: { values: CATALOG_CPUS.map((c) => c.id), bindings: ["body.cpu.id", "body.cpu[*].id"] },
    gpus: { values: CATALOG_GPUS.map((g) => g.id), bindings: ["body.gpu.id"] },
    pools: { values: [...new Set(CATALOG_GPUS.map((g) => g.pool))], bindings: ["body.gpu.pools[*]"] },
    dataCenters: { values: CATALOG_DATACENTERS.map((d) => d.id), bindings: ["body.dataCenter", "body.dataCenterIds[*]"] },
    // Well-formed and malformed: both must come back as the spec says (a number in runtime.ports, or a 400).
    ports: { values: ["4321/http", "22/tcp", "8888/http", "http", "8080", "70000/tcp"], bindings: ["body.ports[*]"] },
    ids: { values: ids, bindings: ["path.id", "body.networkVolumes[*]", "body.mounts.network[*].volumeId"] },
  };
}

function config(ids: string[]): string {
  const list = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
  const known = dictionaries(ids);
  return [
    ...Object.entries(known).flatMap(([name, { values }]) => [`[dictionaries.${name}]`, `values = ${list(values)}`, ""]),
    "[parameters]",
    ...Object.entries(known).flatMap(([name, { bindings }]) => bindings.map((key) => `${JSON.stringify(key)} = { dictionary = "${name}", probability = 0.7 }`)),
    "",
    "[[operations]]",
    `include-operation-id = ${list(notEmulated.map((op) => op.operationId))}`,
    "# 501 Not Implemented is the declared answer of an operation the emulator does not emulate, not a crash.",
    'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]',
    "",
    "[[operations]]",
    `include-operation-id = ${list(RULES_BEYOND_THE_SCHEMA)}`,
    'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]',
    "",
    "[[operations]]",
    `include-operation-id = ${list(CREATE_AND_UPDATE)}`,
    "# Most random bodies meet a rule of RunPod's first; more of them reach what happens to a created resource.",
    `generation.max-examples = ${MAX_EXAMPLES_CREATE}`,
    "",
    "[[operations]]",
    `include-operation-id = ${list(URL_TEMPLATES)}`,
    "checks.response_schema_conformance.validate-formats = false",
    "",
  ].join("\n");
}

let emulator: FastifyInstance;
let origin: string;
let workDir: string;

beforeAll(async () => {
  if (!existsSync(SCHEMATHESIS)) {
    throw new Error(`${SCHEMATHESIS} is missing: run \`bash scripts/setup-python.sh\` (installs schemathesis from handler/requirements-dev.txt into .venv)`);
  }
  emulator = await buildEmulator({ apiKey: KEY });
  await emulator.listen({ host: "127.0.0.1", port: 0 });
  const address = emulator.server.address();
  if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
  origin = `http://127.0.0.1:${address.port}`;
  workDir = mkdtempSync(join(tmpdir(), "schemathesis-"));
});
afterAll(async () => {
  await emulator?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** One request over node:http (fetch refuses TRACE); the body parsed when there is one. */
function call(method: string, path: string, key: string | null = KEY): Promise<{ status: number; headers: IncomingHttpHeaders; body: any }> {
  return new Promise((done, fail) => {
    const req = request(`${origin}${path}`, { method, headers: key === null ? {} : { authorization: `Bearer ${key}` } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => { text += chunk; }).on("end", () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on("error", fail).end();
  });
}

describe("the spec's surface beyond what is emulated", () => {
  it(`the ${notEmulated.length} operations not emulated answer problem+json 501 after the key check`, async () => {
    expect(notEmulated.length).toBe(specOperations().length - EMULATED.length); // every EMULATED id is in the spec
    for (const op of notEmulated) {
      const path = op.path.replace(/\{[^}]+\}/g, "x1");
      const method = op.method.toUpperCase();
      expect((await call(method, path, null)).status, `${method} ${path} without a key`).toBe(401);
      const answer = await call(method, path);
      expect(answer.status, `${method} ${path}`).toBe(501);
      expect(answer.headers["content-type"]).toContain("application/problem+json");
      expect(answer.body).toMatchObject({ title: "Not Implemented", status: 501, detail: expect.stringContaining(op.operationId) });
    }
  });

  it("undeclared methods answer 405 with Allow; OPTIONS answers 204 with Allow", async () => {
    const trace = await call("TRACE", "/v2/serverless");
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe("GET, POST");
    expect(trace.body.title).toBe("Method Not Allowed");
    expect((await call("PUT", "/v2/pods/abc")).headers.allow).toBe("DELETE, GET, PATCH");
    expect((await call("TRACE", "/v2/serverless", null)).status).toBe(401);
    const options = await call("OPTIONS", "/v2/network-volumes/abc");
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe("DELETE, GET, PATCH");
  });
});

describe("schemathesis: RunPod's OpenAPI document against the emulator", () => {
  it("finds no failure with every check on, in bounded time", async () => {
    const configFile = join(workDir, "schemathesis.toml");
    // One of each resource to start from, so that reads, updates and actions meet real ones too.
    const rest = createRunPodRestClient({ baseURL: origin, apiKey: KEY });
    const volume = await rest.networkVolumes.create({ name: "seed", size: 20, dataCenter: "US-KS-2" });
    const endpoint = await rest.endpoints.create({
      name: "seed", type: "QUEUE", image: "worker:1", gpu: { pools: ["ADA_24"] }, workers: { min: 0, max: 1, idleTimeout: 5 },
      scaling: { type: "QUEUE_DELAY", queueDelay: 4 }, networkVolumes: [volume.id], dataCenterIds: ["US-KS-2"],
    });
    const pod = await rest.pods.create({ name: "seed", image: "web:1", ports: ["4321/http"], cpu: { id: "cpu3g", vcpuCount: 2 }, mounts: { network: [{ volumeId: volume.id, path: "/runpod-volume" }] } });
    writeFileSync(configFile, config([volume.id, endpoint.id, pod.id, ...CATALOG_CPUS.map((c) => c.id), ...CATALOG_DATACENTERS.map((d) => d.id)]));
    const started = Date.now();
    const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
      execFile(SCHEMATHESIS, [
        "--no-color", "--config-file", configFile, "run", SPEC_COPY_PATH,
        "--url", origin, "--header", `Authorization: Bearer ${KEY}`,
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", String(MAX_EXAMPLES), "--seed", String(SEED),
        "--max-response-time", "2", "--request-timeout", "5", "--workers", "1",
        "--generation-database", "none", "--output-truncate", "false",
      ], { cwd: workDir, maxBuffer: 64 * 1024 * 1024, timeout: MAX_TIME_S * 1000 }, (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: `${stdout}\n${stderr}` });
      });
    });
    const seconds = (Date.now() - started) / 1000;
    const warnings = output.match(/=+ WARNINGS =+\n([\s\S]*?)=+ SUMMARY/)?.[1]?.trim() ?? "none";
    const summary = output.split("\n").filter((l) => /Selected:|Tested:|Test cases:|generated|passed|failures|errors/.test(l)).join("\n");
    console.log(`schemathesis: ${seconds.toFixed(1)} s\n${summary}\nwarnings:\n${warnings}`);
    expect(code, output.slice(-20_000)).toBe(0);
    expect(output).toMatch(new RegExp(`Tested: ${specOperations().length}\\b`));
  }, (MAX_TIME_S + 30) * 1000);
});
