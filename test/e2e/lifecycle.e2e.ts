// The stack's whole life with the real Pulumi CLI against the local RunPod emulator: preview of a new
// stack, up, no-op preview, an update and a replacement in preview, drift found by refresh, secrets kept
// out of state and outputs, and destroy that keeps the network volume. The steps build on each other.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, list, PulumiProject, startEmulator, urnName, type PreviewJson, type RunningEmulator } from "./harness";

const SESSION_SECRET = "e2e-session-secret-9f3b2c71d0a4";
const ROLES = { volume: "metahuman-volume", endpoint: "metahuman-endpoint", web: "metahuman-web" } as const;

let emu: RunningEmulator;
let project: PulumiProject;

/** The planned operation per resource name; the JSON plan leaves out resources that stay the same. */
function opsByName(preview: PreviewJson): Record<string, string> {
  const ops: Record<string, string> = Object.fromEntries(Object.values(ROLES).map((name) => [name, "same"]));
  for (const step of preview.steps) ops[urnName(step.urn)] = step.op;
  return ops;
}

/** The outputs part of a text preview (`Outputs:`, or `--outputs:--` with --diff): what a person reads under the plan. */
function outputsBlock(text: string): string {
  const at = Math.max(text.indexOf("Outputs:"), text.indexOf("--outputs:--"));
  if (at < 0) throw new Error(`the preview shows no outputs:\n${text}`);
  const end = text.indexOf("Resources:", at);
  return text.slice(at, end < 0 ? undefined : end);
}

beforeAll(async () => {
  emu = await startEmulator();
  // The dynamic provider reads the key from the environment at run time; the program wraps it as a secret.
  project = await PulumiProject.create({ emulator: emu, env: { RUNPOD_API_KEY: emu.apiKey } });
  await project.setConfig("sessionSecret", SESSION_SECRET, { secret: true });
});

afterAll(async () => {
  await project?.close();
  await emu?.close();
});

describe("pulumi against the local RunPod", () => {
  const ids: { volume?: string; endpoint?: string; web?: string } = {};

  it("previews a new stack as three creations and shows the cost estimate", async () => {
    const preview = await project.previewJson();
    const ops = opsByName(preview);
    expect(ops[ROLES.volume]).toBe("create");
    expect(ops[ROLES.endpoint]).toBe("create");
    expect(ops[ROLES.web]).toBe("create");

    const text = (await project.ok(["preview"])).stdout;
    const outputs = outputsBlock(text);
    expect(outputs).toContain("costEstimate");
    expect(outputs).toMatch(/baseUsdPerMonth\s*:\s*\d/);
    expect(outputs).toMatch(/heavy\s*:\s*\d/);
    // Preview creates nothing.
    expect(await list(emu, "/v2/network-volumes")).toHaveLength(0);
  });

  it("creates the volume, endpoint and pod; outputs are the emulator's ids", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    const outputs = await project.outputs();
    ids.volume = outputs.volumeId;
    ids.endpoint = outputs.endpointId;
    ids.web = outputs.webPodId;

    const volumes = await list(emu, "/v2/network-volumes");
    const endpoints = await list(emu, "/v2/serverless");
    const pods = await list(emu, "/v2/pods");
    expect(volumes.map((v) => v.id)).toEqual([outputs.volumeId]);
    expect(endpoints.map((e) => e.id)).toEqual([outputs.endpointId]);
    expect(pods.map((p) => p.id)).toEqual([outputs.webPodId]);

    const volume = (await api(emu, "GET", `/v2/network-volumes/${ids.volume}`)).body;
    expect(volume).toMatchObject({ name: "metahuman-data", size: 50, dataCenter: "EU-RO-1" });

    const endpoint = (await api(emu, "GET", `/v2/serverless/${ids.endpoint}`)).body;
    expect(endpoint).toMatchObject({
      name: "metahuman-llm",
      workers: { min: 0, max: 3, idleTimeout: 5 },
      gpu: { pools: ["ADA_24"] },
      flashboot: "FLASHBOOT",
      networkVolumes: [ids.volume],
      dataCenterIds: ["EU-RO-1"],
    });

    const pod = (await api(emu, "GET", `/v2/pods/${ids.web}`)).body;
    expect(pod).toMatchObject({ name: "metahuman-web", ports: ["4321/http"] });
    expect(JSON.stringify(pod)).toContain(ids.volume);
    // The pod's env carries the endpoint id and the secrets the web server needs.
    expect(JSON.stringify(pod.env)).toContain(ids.endpoint);

    expect(outputs.dataCenter).toBe("EU-RO-1");
    expect(outputs.webUrl).toBe(`https://${ids.web}-4321.proxy.runpod.net`);
    expect(outputs.costEstimate.usdPerMonth.heavy).toBeGreaterThan(0);
  });

  it("previews no change right after up", async () => {
    const result = await project.run(["preview", "--expect-no-changes"]);
    expect(result.code, result.output).toBe(0);
  });

  it("previews a higher workersMax as an update of the endpoint alone, and the estimate changes", async () => {
    await project.setConfig("workersMax", "6");
    try {
      const preview = await project.previewJson();
      const ops = opsByName(preview);
      const plan = JSON.stringify(ops);
      expect(ops[ROLES.endpoint], plan).toBe("update");
      expect(ops[ROLES.volume], plan).toBe("same");
      expect(ops[ROLES.web], plan).toBe("same");
      // Dynamic providers report no per-property diff reasons: the inputs show what changes.
      const endpointStep = preview.steps.find((s) => urnName(s.urn) === ROLES.endpoint);
      expect(endpointStep?.oldState?.inputs?.workersMax).toBe(3);
      expect(endpointStep?.newState?.inputs?.workersMax).toBe(6);

      const outputs = outputsBlock((await project.ok(["preview", "--diff"])).stdout);
      // A changed output shows `~ key: old => new`; a figure must change, not only the prices' timestamp.
      expect(outputs).toMatch(/~\s*costEstimate/);
      const changedFigures = outputs.split("\n").filter((line) => line.includes("=>") && !/^\s*~?\s*prices\s*:/.test(line));
      expect(changedFigures, outputs).not.toEqual([]);
    } finally {
      await project.ok(["config", "rm", "metahuman:workersMax"]);
    }
  });

  it("previews a new data center as replacements of the volume and pod, which the volume's protection refuses", async () => {
    // Another data center with RunPod's S3 API (one without fails preview before any plan: preflight.e2e.ts).
    await project.setConfig("dataCenter", "US-KS-2");
    try {
      // The volume is protected: the plan shows every replacement, and the preview fails on the volume's.
      const result = await project.run(["preview", "--json"]);
      const preview = JSON.parse(result.stdout) as PreviewJson;
      const ops = opsByName(preview);
      const plan = JSON.stringify(ops);
      expect(ops[ROLES.volume], plan).toBe("replace");
      expect(ops[ROLES.web], plan).toBe("replace");
      // The endpoint moves in place: REST v2 PATCHes dataCenterIds and networkVolumes, so its id (and the
      // web pod's RUNPOD_ENDPOINT_ID) survive the move.
      expect(ops[ROLES.endpoint], plan).toBe("update");
      expect(result.code).not.toBe(0);
      const errors = (preview.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message).join("\n");
      expect(errors).toMatch(/unable to replace resource .*metahuman-volume[\s\S]*protect/);
    } finally {
      await project.ok(["config", "rm", "metahuman:dataCenter"]);
    }
    const back = await project.run(["preview", "--expect-no-changes"]);
    expect(back.code, back.output).toBe(0);
  });

  it("finds a change made directly in RunPod with refresh", async () => {
    const patched = await api(emu, "PATCH", `/v2/serverless/${ids.endpoint}`, { workers: { idleTimeout: 77 } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);

    const refresh = await project.ok(["refresh", "--yes", "--skip-preview"]);
    // The summary counts exactly one resource whose recorded state changed (the endpoint), and nothing else moved.
    const summary = refresh.output.slice(refresh.output.lastIndexOf("Resources:"));
    expect(summary, refresh.output).toMatch(/^\s*~ 1 updated$/m);
    expect(summary).not.toMatch(/\b(created|deleted|replaced)\b/);
    const state = await project.exportState();
    const endpoint = state.deployment.resources.find((r: any) => urnName(r.urn) === ROLES.endpoint);
    expect(JSON.stringify(endpoint.outputs)).toMatch(/"idleTimeout":77/);

    // The program still says 5: the next preview plans to put it back, on the endpoint only.
    const ops = opsByName(await project.previewJson());
    expect(ops[ROLES.endpoint]).toBe("update");
    expect(ops[ROLES.volume]).toBe("same");
    await project.ok(["up", "--yes", "--skip-preview"]);
    const endpointNow = (await api(emu, "GET", `/v2/serverless/${ids.endpoint}`)).body;
    expect(endpointNow.workers.idleTimeout).toBe(5);
  });

  it("keeps the API key and the session secret out of the state file and the outputs", async () => {
    const stateFile = await readFile(project.stateFilePath(), "utf8");
    const exported = JSON.stringify(await project.exportState());
    const outputsJson = (await project.ok(["stack", "output", "--json"])).stdout;
    const texts: [string, string][] = [["state file", stateFile], ["stack export", exported], ["stack output --json", outputsJson]];
    for (const [what, text] of texts) {
      expect(text.includes(emu.apiKey), `API key in ${what}`).toBe(false);
      expect(text.includes(SESSION_SECRET), `session secret in ${what}`).toBe(false);
    }
    // They are there, encrypted: the web env is a secret output that only --show-secrets reveals.
    expect(JSON.parse(outputsJson).webEnv).toBe("[secret]");
    const revealed = await project.outputs({ showSecrets: true });
    expect(revealed.webEnv.SESSION_SECRET).toBe(SESSION_SECRET);
  });

  it("refuses a plain destroy because the volume is protected, and deletes nothing", async () => {
    // With its preview (as a person runs it): the plan fails before anything is deleted.
    const result = await project.run(["destroy", "--yes"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("protected");
    expect(await list(emu, "/v2/serverless")).toHaveLength(1);
    expect(await list(emu, "/v2/pods")).toHaveLength(1);
  });

  it("destroy --exclude-protected removes the endpoint and the pod and keeps the volume", async () => {
    await project.ok(["destroy", "--yes", "--skip-preview", "--exclude-protected"]);
    expect((await api(emu, "GET", `/v2/serverless/${ids.endpoint}`)).status).toBe(404);
    expect((await api(emu, "GET", `/v2/pods/${ids.web}`)).status).toBe(404);
    const volume = await api(emu, "GET", `/v2/network-volumes/${ids.volume}`);
    expect(volume.status).toBe(200);
    expect(volume.body).toMatchObject({ id: ids.volume, size: 50 });
  });
});
