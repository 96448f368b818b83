// The Pulumi program under mocks: what it declares, how outputs are wired into the web pod,
// what is secret, the volume's protection, and the cost estimate's arithmetic.
// Dynamic providers never run under mocks (their create/read are tested against the emulator).
import { execFile } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";

const API_KEY = "program-test-api-key-0123456789abcdef";
const SESSION_SECRET = "program-test-session-secret-0123456789abcdef";
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
interface ProgramRun {
  declared: Declared[];
  options: Record<string, { protect?: boolean; retainOnDelete?: boolean; additionalSecretOutputs?: string[] }>;
  outputs: Record<string, { value: any; secret: boolean }>;
}

let run: ProgramRun;

function resource(nameSuffix: string): Declared {
  const found = run.declared.find((r) => r.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no resource named *${nameSuffix}; declared: ${run.declared.map((r) => r.name).join(", ")}`);
  return found;
}

function output(name: string) {
  const found = run.outputs[name];
  if (!found) throw new Error(`no output ${name}; exported: ${Object.keys(run.outputs).join(", ")}`);
  return found;
}

/**
 * The program under mocks in a child process (test/infra/fixtures/run-program-with-mocks.ts). Asynchronous: a
 * synchronous spawn would stop this fork's event loop for as long as the program runs, and past 60 s vitest's
 * worker takes its own unanswered messages for a dead main process.
 */
function runProgram(config: Record<string, string>): Promise<{ run: ProgramRun; log: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "test/infra/fixtures/run-program-with-mocks.ts", API_KEY, SESSION_SECRET, JSON.stringify(config)],
      { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the program failed under mocks:\n${stderr}`));
        else resolve({ run: JSON.parse(stdout) as ProgramRun, log: stderr });
      },
    );
  });
}

beforeAll(async () => {
  run = (await runProgram({ "metahuman:workersMax": "4", "metahuman:workerCudaVersion": "12.9" })).run;
}, 130_000);

describe("the program", () => {
  it("declares the three RunPod resources under one component", () => {
    const ours = run.declared.filter((r) => r.type !== "pulumi:pulumi:Stack");
    expect(ours.map((r) => r.name).sort()).toEqual(["metahuman", "metahuman-endpoint", "metahuman-volume", "metahuman-web"]);
    expect(resource("metahuman").type).toBe("metahuman:infra:MetaHumanStack");
  });

  it("declares the seed's network volume, protected and retained on delete", () => {
    const volume = resource("-volume");
    expect(volume.inputs).toMatchObject({ name: "metahuman-data", size: 50, dataCenter: "EU-RO-1", type: "STANDARD" });
    expect(run.options["metahuman-volume"]).toMatchObject({ protect: true, retainOnDelete: true });
    // Nothing else is protected: `pulumi destroy --exclude-protected` must remove them.
    expect(run.options["metahuman-endpoint"]?.protect).toBeFalsy();
    expect(run.options["metahuman-web"]?.protect).toBeFalsy();
  });

  it("declares the endpoint in the volume's data center with every scaling field and a timeout", () => {
    const endpoint = resource("-endpoint");
    expect(endpoint.inputs).toMatchObject({
      name: "metahuman-llm",
      image: "ghcr.io/test/metahuman-worker@sha256:" + "a".repeat(64),
      gpuPools: ["ADA_24"],
      workersMin: 0,
      workersMax: 4, // from the stack config, not the default
      minCudaVersion: "12.9", // metahuman:workerCudaVersion from the stack config (default 13.0)
      idleTimeout: 5,
      queueDelay: 4,
      flashboot: "FLASHBOOT",
      executionTimeoutMs: 600_000,
      networkVolumeId: "metahuman-volume-id",
      dataCenterIds: ["EU-RO-1"],
    });
    expect(endpoint.inputs.env).toMatchObject({
      ENGINE: "vllm",
      MODEL_NAME: "Qwen/Qwen2.5-7B-Instruct-AWQ",
      MAX_MODEL_LEN: "8192",
      HF_HUB_CACHE: "/runpod-volume/huggingface-cache/hub",
    });
  });

  it("declares the CPU web pod with the volume mounted and port 4321 over HTTP", () => {
    const pod = resource("-web");
    expect(pod.inputs).toMatchObject({
      name: "metahuman-web",
      image: "ghcr.io/test/metahuman-web@sha256:" + "b".repeat(64),
      cpuFlavor: "cpu3g",
      vcpuCount: 4,
      ports: ["4321/http"],
      dataCenterIds: ["EU-RO-1"],
      networkVolumeId: "metahuman-volume-id",
      volumeMountPath: "/runpod-volume",
    });
  });

  it("feeds the endpoint's id and the secrets into the pod's env, the whole env a secret", () => {
    const env = resource("-web").inputs.env;
    // Pulumi's wire form of a secret value: the signature key beside the value.
    expect(env[SECRET_SIGNATURE]).toBe(SECRET_SIG_VALUE);
    expect(env.value).toEqual({
      RUNPOD_API_KEY: API_KEY,
      RUNPOD_ENDPOINT_ID: "metahuman-endpoint-id",
      METAHUMAN_ROOT: "/runpod-volume/metahuman",
      OLLAMA_MODELS: "/runpod-volume/ollama/models",
      LLM_PROVIDER: "runpod_serverless",
      LLM_MODEL: "Qwen/Qwen2.5-7B-Instruct-AWQ",
      HOST: "0.0.0.0",
      PORT: "4321",
      NODE_ENV: "production",
      // MetaHuman OS's background agents are off unless metahuman:agents says on.
      METAHUMAN_AGENTS: "off",
      SESSION_SECRET: SESSION_SECRET,
      // The prices the estimate used (the table under mocks: ADA_24 $0.00031/s) and the default budget, for spend on the pod.
      GPU_USD_PER_SECOND: "0.00031",
      BUDGET_MONTHLY_USD: "150",
    });
  });

  it("exports the IDs, the URL and the data center in plain text", () => {
    expect(output("volumeId")).toEqual({ value: "metahuman-volume-id", secret: false });
    expect(output("endpointId")).toEqual({ value: "metahuman-endpoint-id", secret: false });
    expect(output("webPodId")).toEqual({ value: "metahuman-web-id", secret: false });
    expect(output("webUrl")).toEqual({ value: "https://metahuman-web-id-4321.proxy.runpod.net", secret: false });
    expect(output("dataCenter")).toEqual({ value: "EU-RO-1", secret: false });
  });

  it("keeps the web pod's env secret, and no plain output carries a secret", () => {
    const webEnv = output("webEnv");
    expect(webEnv.secret).toBe(true);
    expect(webEnv.value.SESSION_SECRET).toBe(SESSION_SECRET);
    // The pod's env reaches state encrypted too.
    expect(run.options["metahuman-web"]?.additionalSecretOutputs).toContain("env");
    expect(Object.keys(run.outputs).sort()).toEqual(
      ["costEstimate", "dataCenter", "endpointId", "volumeId", "webEnv", "webPodId", "webUrl"],
    );
    for (const [name, { value, secret }] of Object.entries(run.outputs)) {
      if (name === "webEnv") continue;
      expect(secret, `${name} should not be secret`).toBe(false);
      const text = JSON.stringify(value);
      expect(text, name).not.toContain(API_KEY);
      expect(text, name).not.toContain(SESSION_SECRET);
    }
  });

  it("estimates cost from the dated table when the catalog cannot be read", () => {
    const { value: cost } = output("costEstimate");
    // base = volume 50 GB × $0.07 + web pod 4 vCPU × $0.04/h × 730 h + container disk 20 GB × $0.10
    //      = 3.50 + 116.80 + 2.00 = $122.30 per month (no warm workers: workersMin 0)
    expect(cost.baseUsdPerMonth).toBeCloseTo(3.5 + 4 * 0.04 * 730 + 20 * 0.1, 2);
    expect(cost.gpuUsdPerSecond).toBe(0.00031); // RTX 4090 (ADA_24), published rate
    expect(cost.gpuPool).toBe("ADA_24");
    expect(cost.prices).toMatch(/^table of \d{4}-\d{2}-\d{2}$/);
    // Peak: workersMax (4 in this stack) busy for an hour = 4 × $0.00031/s × 3600 s = $4.46
    expect(cost.peakUsdPerHour).toBeCloseTo(4.46, 2);
    expect(cost.budgetUsdPerMonth).toBe(150);
    // Usage only adds to the base, and more chats cost more.
    expect(cost.usdPerMonth.light).toBeGreaterThan(cost.baseUsdPerMonth);
    expect(cost.usdPerMonth.medium).toBeGreaterThan(cost.usdPerMonth.light);
    expect(cost.usdPerMonth.heavy).toBeGreaterThan(cost.usdPerMonth.medium);
  });
});

// Finding 8 of issue 11: the pod held the deploy key, so any leak from the public web server
// controlled the whole account. The pod now gets its own key; the deploy key stays with Pulumi.
describe("the web pod's RunPod key", () => {
  const WEB_KEY = "program-test-web-pod-key-fedcba9876543210";
  let separate: Awaited<ReturnType<typeof runProgram>>;
  let same: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    [separate, same] = await Promise.all([
      runProgram({ "metahuman:webRunpodApiKey": WEB_KEY }),
      runProgram({ "metahuman:webRunpodApiKey": API_KEY }),
    ]);
  }, 260_000);

  it("is metahuman:webRunpodApiKey when set: the deploy key never reaches the pod, and the key stays secret", () => {
    const web = separate.run.declared.find((r) => r.name === "metahuman-web")!;
    expect(web.inputs.env[SECRET_SIGNATURE]).toBe(SECRET_SIG_VALUE);
    expect(web.inputs.env.value.RUNPOD_API_KEY).toBe(WEB_KEY);
    expect(JSON.stringify(web.inputs)).not.toContain(API_KEY);
    expect(separate.run.outputs.webEnv).toMatchObject({ secret: true, value: { RUNPOD_API_KEY: WEB_KEY } });
    for (const [name, { value, secret }] of Object.entries(separate.run.outputs)) {
      if (secret) continue;
      expect(JSON.stringify(value), name).not.toContain(WEB_KEY);
    }
    expect(separate.log).not.toMatch(/webRunpodApiKey/); // no warning
  });

  it("warns in preview when it is the deploy key, or not set, without showing a key", () => {
    expect(same.log).toMatch(/metahuman:webRunpodApiKey is the same key Pulumi deploys with/);
    expect(run.declared.find((r) => r.name === "metahuman-web")!.inputs.env.value.RUNPOD_API_KEY).toBe(API_KEY);
    for (const log of [same.log]) {
      expect(log).not.toContain(API_KEY);
      expect(log).not.toContain(WEB_KEY);
    }
  });

  it("warns when it is not set (the pod then gets the deploy key)", async () => {
    const unset = await runProgram({});
    expect(unset.log).toMatch(/metahuman:webRunpodApiKey is not set/);
    expect(unset.log).not.toContain(API_KEY);
  }, 130_000);
});
