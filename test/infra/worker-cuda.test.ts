// metahuman:workerCudaVersion must be the CUDA that docker/worker.Dockerfile's base image is built for: the endpoint
// asks RunPod for hosts that run it (gpu.minCudaVersion). Read from the Dockerfile itself, so changing the base image
// without the default (or the default without the image) fails here.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../src/infra/config";

/**
 * The CUDA each vLLM release's default image (no -cuXYZ suffix) is built for, as vLLM publishes it
 * (the project's vLLM 0.33 reference notes: "the default build is CUDA 13 (host driver ≥ 580); -cu129 variants exist").
 * A base image of a release not listed here fails the test until its CUDA is looked up and added.
 */
const VLLM_DEFAULT_CUDA: Record<string, string> = { "0.33": "13.0" };

/** The CUDA of a vllm/vllm-openai image reference: its -cuXYZ suffix (cu129 → 12.9), else its release's default. */
function cudaOfVllmImage(image: string): string {
  const match = /^vllm\/vllm-openai:v(\d+)\.(\d+)\.\d+(?:-cu(\d+)(\d))?(?:@sha256:[a-f0-9]{64})?$/.exec(image);
  if (!match) throw new Error(`${image} is not a vllm/vllm-openai:v<version>[-cu<XYZ>] image: say here which CUDA it is built for`);
  const [, major, minor, cudaMajor, cudaMinor] = match;
  if (cudaMajor !== undefined) return `${cudaMajor}.${cudaMinor}`;
  const cuda = VLLM_DEFAULT_CUDA[`${major}.${minor}`];
  if (cuda === undefined) throw new Error(`which CUDA vLLM ${major}.${minor}'s default image is built for is not known here; add it to VLLM_DEFAULT_CUDA`);
  return cuda;
}

function workerBaseImage(): string {
  const text = readFileSync(path.resolve(__dirname, "../../docker/worker.Dockerfile"), "utf8");
  const froms = [...text.matchAll(/^FROM\s+(?:--platform=\S+\s+)?(\S+)/gm)].map((m) => m[1]!);
  expect(froms.length, "docker/worker.Dockerfile has one FROM line").toBe(1);
  return froms[0]!;
}

describe("metahuman:workerCudaVersion", () => {
  it("defaults to the CUDA of docker/worker.Dockerfile's base image", () => {
    const base = workerBaseImage();
    expect(base).toMatch(/^vllm\/vllm-openai:/);
    expect(parseStackConfig({}).workerCudaVersion).toBe(cudaOfVllmImage(base));
  });

  it("reads a base image's CUDA from its tag (so a -cu129 base would need 12.9)", () => {
    expect(cudaOfVllmImage("vllm/vllm-openai:v0.33.0")).toBe("13.0");
    expect(cudaOfVllmImage("vllm/vllm-openai:v0.33.0-cu129")).toBe("12.9");
    expect(cudaOfVllmImage("vllm/vllm-openai:v0.33.1-cu130")).toBe("13.0");
    expect(() => cudaOfVllmImage("vllm/vllm-openai:v0.40.0")).toThrow(/add it to VLLM_DEFAULT_CUDA/);
    expect(() => cudaOfVllmImage("nvidia/cuda:13.0.0-runtime-ubuntu24.04")).toThrow(/say here which CUDA/);
  });
});
