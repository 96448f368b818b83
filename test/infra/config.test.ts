import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../src/infra/config";

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

/** Reads the flat `metahuman:*` keys of a stack file without a YAML parser (the file is flat by design). */
function stackFileValues(path: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^\s+metahuman:(\w+):\s*("?)([^"#]*?)\2\s*(#.*)?$/.exec(line);
    if (match) values[match[1]!] = match[3]!;
  }
  return values;
}

describe("stack config", () => {
  it("defaults to the seed's choices", () => {
    const config = parseStackConfig({});
    expect(config).toMatchObject({
      volumeSizeGb: 50, gpuPools: ["ADA_24"], workersMin: 0, workersMax: 3, idleTimeout: 5,
      webCpuFlavor: "cpu3g", webVcpu: 4, webPort: 4321, flashboot: true,
    });
    expect(config.executionTimeoutMs).toBeGreaterThan(0);
  });

  it("reads Pulumi.prod.yaml as the seed's choices, with no secret in it", () => {
    const raw = stackFileValues("Pulumi.prod.yaml");
    expect(Object.keys(raw).length).toBeGreaterThan(10);
    expect(raw).not.toHaveProperty("runpodApiKey");
    expect(raw).not.toHaveProperty("sessionSecret");
    expect(parseStackConfig(raw)).toEqual(parseStackConfig({}));
  });

  it("knows metahuman:webRunpodApiKey as a secret setting, not a misspelt one", () => {
    expect(() => parseStackConfig({ webRunpodApiKey: "not read here", runpodApiKey: "x", sessionSecret: "y" })).not.toThrow();
    expect(() => parseStackConfig({ webRunpodApiKeys: "x" })).toThrow(/webRunpodApiKeys is not a known setting/);
  });

  it("parses the strings Pulumi hands over", () => {
    const config = parseStackConfig({
      workersMax: "5", flashboot: "false", gpuPools: '["ADA_24","AMPERE_80"]', queueDelaySeconds: "2.5",
    });
    expect(config.workersMax).toBe(5);
    expect(config.flashboot).toBe(false);
    expect(config.gpuPools).toEqual(["ADA_24", "AMPERE_80"]);
    expect(config.queueDelaySeconds).toBe(2.5);
    expect(parseStackConfig({ gpuPools: "ADA_24, AMPERE_80" }).gpuPools).toEqual(["ADA_24", "AMPERE_80"]);
  });

  // Each bad value: the message names the key, the value and what is allowed.
  const cases: [Record<string, unknown>, string][] = [
    [{ workersMax: "abc" }, 'metahuman:workersMax = "abc": must be a whole number from 1 to 100'],
    [{ workersMax: "0" }, 'metahuman:workersMax = "0": must be a whole number from 1 to 100'],
    [{ volumeSizeGb: "5" }, 'metahuman:volumeSizeGb = "5": must be a whole number from 10 to 4096'],
    [{ volumeSizeGb: "50.5" }, 'metahuman:volumeSizeGb = "50.5": must be a whole number from 10 to 4096'],
    [{ idleTimeout: "0" }, 'metahuman:idleTimeout = "0": must be a whole number from 1 to 3600'],
    [{ idleTimeout: "7200" }, 'metahuman:idleTimeout = "7200": must be a whole number from 1 to 3600'],
    [{ gpuPools: "RTX_4090" }, 'metahuman:gpuPools = "RTX_4090": must be one of AMPERE_16, AMPERE_24, ADA_24'],
    [{ gpuPools: "[]" }, 'metahuman:gpuPools = "[]": must name at least one GPU pool'],
    [{ webVcpu: "6" }, 'metahuman:webVcpu = "6": must be a power of two'],
    [{ webCpuFlavor: "cpu9x" }, 'metahuman:webCpuFlavor = "cpu9x": must be one of cpu3c, cpu3g'],
    [{ dataCenter: "europe" }, 'metahuman:dataCenter = "europe": must be a RunPod data center id such as EU-RO-1'],
    [{ flashboot: "yes" }, 'metahuman:flashboot = "yes": must be "true" or "false"'],
    [{ volumeType: "FAST" }, 'metahuman:volumeType = "FAST": must be one of STANDARD, HIGH_PERFORMANCE'],
    [{ executionTimeoutMs: "1000" }, 'metahuman:executionTimeoutMs = "1000": must be a whole number from 5000 to 86400000'],
    [{ webImage: "Not An Image" }, 'metahuman:webImage = "Not An Image": must be a container image reference'],
    [{ budgetMonthlyUsd: "-3" }, 'metahuman:budgetMonthlyUsd = "-3": must be a positive number of US dollars'],
    [{ gpuMemoryUtilization: "1.5" }, 'metahuman:gpuMemoryUtilization = "1.5": must be a fraction between 0.1 and 0.98'],
    [{ workerCudaVersion: "13" }, 'metahuman:workerCudaVersion = "13": must be one of 11.8, 12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.7, 12.8, 12.9, 13.0'],
    [{ workerCudaVersion: "cu129" }, 'metahuman:workerCudaVersion = "cu129": must be one of 11.8,'],
    [{ workersMin: "4", workersMax: "3" }, "metahuman:workersMin = 4: must not exceed workersMax (3)"],
    [{ workerMax: "3" }, "metahuman:workerMax is not a known setting"],
  ];
  it.each(cases)("rejects %j", (raw, message) => {
    const problems = problemsOf(raw);
    expect(problems.join("\n")).toContain(message);
  });

  it("reports every bad key at once", () => {
    const problems = problemsOf({ workersMax: "x", idleTimeout: "0", webPort: "70000" });
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.split(" ")[0])).toEqual(
      ["metahuman:workersMax", "metahuman:idleTimeout", "metahuman:webPort"],
    );
  });
});
