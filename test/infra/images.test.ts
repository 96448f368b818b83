// The images have no default (none published is yours): an unset one is named with how to build and pin it, and
// Pulumi.prod.yaml names none that does not exist (the deploy workflow sets both by digest).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { missingImages, parseStackConfig } from "../../src/infra/config";

describe("image settings", () => {
  it("are empty by default, and each unset one is named with its Dockerfile and the digest form", () => {
    const config = parseStackConfig({});
    expect([config.workerImage, config.webImage]).toEqual(["", ""]);
    const problems = missingImages(config);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^metahuman:workerImage is not set, .*docker\/worker\.Dockerfile.*\.github\/workflows\/images\.yml.*metahuman-worker@sha256:<digest>/);
    expect(problems[1]).toMatch(/^metahuman:webImage is not set, .*docker\/web\.Dockerfile/);
    expect(missingImages(parseStackConfig({ workerImage: `ghcr.io/me/metahuman-worker@sha256:${"0".repeat(64)}`, webImage: "ghcr.io/me/metahuman-web:abc123" }))).toEqual([]);
  });

  it("Pulumi.prod.yaml sets no image (CI does, by digest)", () => {
    const text = readFileSync(path.resolve(__dirname, "../../Pulumi.prod.yaml"), "utf8");
    expect(text).not.toMatch(/^\s*metahuman:(workerImage|webImage):/m);
  });
});
