// One Hugging Face cache for the model, whoever reads or writes it. Four places name it, and they must agree, or a
// worker starts with HF_HUB_OFFLINE=1 and finds no weights: the worker image's ENV (docker/worker.Dockerfile), the
// worker's own default when the variable is unset (handler/worker_config.py, read by running it), the env the stack
// declares on the endpoint (src/index.ts under Pulumi mocks) and docs/deploy.md's download command that fills the cache.
// Each value is read from its own source; none is restated here.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "../..");
const VENV_PYTHON = path.join(REPO, ".venv", "bin", "python");

/** The ENV instructions of a Dockerfile, continuation lines joined, as a map. */
export function dockerfileEnv(text: string): Record<string, string> {
  const joined = text.replace(/\\\r?\n/g, " ");
  const env: Record<string, string> = {};
  for (const line of joined.split("\n")) {
    const m = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!m) continue;
    for (const pair of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[pair[1]!] = pair[2]!.replace(/^"|"$/g, "");
  }
  return env;
}

/** What the worker resolves HF_HUB_CACHE to, run by the worker's own Python from its own config module. */
function workerHubCache(env: Record<string, string>): string {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run \`bash scripts/setup.sh\` (or scripts/setup-python.sh) first`);
  const code = "import json, sys; from worker_config import load_worker_config; print(load_worker_config(json.loads(sys.argv[1])).hf_hub_cache)";
  const run = spawnSync(VENV_PYTHON, ["-c", code, JSON.stringify(env)], { cwd: path.join(REPO, "handler"), encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0) throw new Error(`worker_config failed:\n${run.stderr}`);
  return run.stdout.trim();
}

let stackEnv: Record<string, string>;

beforeAll(() => {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "test/infra/fixtures/run-program-with-mocks.ts", "hf-cache-test-key-0123456789", "hf-cache-test-session-secret-0123456789abcdef", "{}"],
    { cwd: REPO, encoding: "utf8", timeout: 120_000 },
  );
  if (result.status !== 0) throw new Error(`the program failed under mocks:\n${result.stderr}`);
  const declared = (JSON.parse(result.stdout) as { declared: { name: string; inputs: Record<string, any> }[] }).declared;
  const endpoint = declared.find((r) => r.name.endsWith("-endpoint"));
  if (!endpoint) throw new Error(`the program declared no endpoint: ${declared.map((r) => r.name).join(", ")}`);
  stackEnv = endpoint.inputs.env as Record<string, string>;
}, 130_000);

describe("HF_HUB_CACHE", () => {
  it("is one value in the worker image, the worker's default, the stack's endpoint env and docs/deploy.md's download", () => {
    const image = dockerfileEnv(readFileSync(path.join(REPO, "docker", "worker.Dockerfile"), "utf8"));
    const readme = readFileSync(path.join(REPO, "docs", "deploy.md"), "utf8");
    const readmeDownload = /HF_HUB_CACHE=(\S+)\s+huggingface-cli download/.exec(readme)?.[1];

    const values = {
      "docker/worker.Dockerfile ENV": image.HF_HUB_CACHE,
      "handler/worker_config.py default (variable unset)": workerHubCache({ ENGINE: "echo" }),
      "the stack's endpoint env (src/index.ts)": stackEnv.HF_HUB_CACHE,
      "docs/deploy.md's huggingface-cli download": readmeDownload,
    };
    for (const [where, value] of Object.entries(values)) expect(value, `HF_HUB_CACHE in ${where}`).toMatch(/^\/runpod-volume\//);
    expect(new Set(Object.values(values)).size, JSON.stringify(values, null, 2)).toBe(1);
  });

  it("is where the worker looks when the image or the endpoint sets it, and HF_HOME's hub folder in the image", () => {
    const image = dockerfileEnv(readFileSync(path.join(REPO, "docker", "worker.Dockerfile"), "utf8"));
    // The endpoint's env wins over the image's ENV on RunPod: the worker must take it as given.
    expect(workerHubCache({ ENGINE: "echo", HF_HUB_CACHE: stackEnv.HF_HUB_CACHE! })).toBe(stackEnv.HF_HUB_CACHE);
    // huggingface_hub puts the hub cache at $HF_HOME/hub unless HF_HUB_CACHE says otherwise: both must agree.
    expect(image.HF_HOME && `${image.HF_HOME}/hub`).toBe(image.HF_HUB_CACHE);
    // The model is read offline from that cache.
    expect(image.HF_HUB_OFFLINE).toBe("1");
  });

  it("the Dockerfile reader sees continued ENV lines (so the check above can fail)", () => {
    expect(dockerfileEnv("FROM x\nENV A=1 \\\n    HF_HUB_CACHE=/somewhere/else \\\n    B=\"two\"\n")).toEqual({ A: "1", HF_HUB_CACHE: "/somewhere/else", B: "two" });
  });
});
