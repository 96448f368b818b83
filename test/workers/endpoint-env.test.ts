// Workers get their endpoint's env, as RunPod hands it to each worker (issue 17): the stack's MODEL_NAME,
// MAX_MODEL_LEN, MODEL_ALIASES… reach the real SDK worker, so a wrong value shows up locally and an alias can be set.
// Only what cannot hold on this machine is changed, by name (ENGINE: no vLLM here; HF_HUB_CACHE: this disk).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerEnv, type WorkerManager } from "../../src/emulator/worker-manager";
import { API_KEY, call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

describe("workerEnv", () => {
  it("keeps the endpoint's env, overrides by name, and never lets the endpoint set the worker protocol", () => {
    const { env, overridden } = workerEnv(
      { ENGINE: "vllm", MODEL_NAME: "acme/m", RUNPOD_WEBHOOK_GET_JOB: "http://evil.example/", HF_HUB_CACHE: "/runpod-volume/hub" },
      { HF_HUB_CACHE: "/tmp/hub" },
    );
    expect(env).toEqual({ ENGINE: "echo", MODEL_NAME: "acme/m", HF_HUB_CACHE: "/tmp/hub" });
    expect(overridden).toEqual(["ENGINE", "HF_HUB_CACHE"]);
  });
});

describe("a real SDK worker started by the emulator", () => {
  let emu: RunningEmulator;
  let manager: WorkerManager;
  const hub = mkdtempSync(path.join(tmpdir(), "endpoint-env-hub-"));
  const openai = (route: string, body?: unknown) =>
    fetch(`${emu.serverlessUrl}/${emu.endpoint.id}/openai/v1${route}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    emu = await startEmulator(
      { executor: "workers", workerPollWaitMs: 2000, workers: { env: { HF_HUB_CACHE: hub } } },
      { workersMax: 1, env: { ENGINE: "vllm", MODEL_NAME: "acme/model-x", MODEL_ALIASES: "house-model", MAX_MODEL_LEN: "64", HF_HUB_CACHE: "/runpod-volume/huggingface-cache/hub" } },
    );
    manager = emu.app.jobSystem.executor as WorkerManager;
  });
  afterAll(async () => {
    await emu?.close();
    rmSync(hub, { recursive: true, force: true });
  });

  it("serves the endpoint's MODEL_NAME and MODEL_ALIASES, within its MAX_MODEL_LEN, and says what it overrode", async () => {
    const models = await openai("/models");
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(["acme/model-x", "house-model"]);
    const byAlias = await openai("/chat/completions", { model: "house-model", messages: [{ role: "user", content: "alias works" }], max_tokens: 8 });
    expect(byAlias.status).toBe(200);
    expect(((await byAlias.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("alias works");
    const tooLong = await call(emu, "POST", "/runsync", { input: { prompt: "hi", max_tokens: 100 } });
    expect(tooLong.body.status).toBe("FAILED");
    expect(tooLong.body.error).toContain("an integer from 1 to 64 (max_model_len)");
    const workerId = (await call(emu, "GET", `/status/${tooLong.body.id}`)).body.workerId as string;
    expect(manager.outputOf(workerId)[0]).toBe(`emulator: endpoint env given to the worker; overridden here: ENGINE="echo", HF_HUB_CACHE=${JSON.stringify(hub)}`);
  });
});
