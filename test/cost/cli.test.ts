// `npm run cost` as a person runs it: the table for a stack file, --compare of two configs, --chart.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "cost-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const current = join(dir, "Pulumi.current.yaml");
const proposed = join(dir, "Pulumi.proposed.yaml");
writeFileSync(current, [
  "config:",
  "  metahuman:volumeSizeGb: \"50\"",
  "  metahuman:webVcpu: \"4\"",
  "  metahuman:budgetMonthlyUsd: \"150\"",
  "  metahuman:sessionSecret:",
  "    secure: AAABAHrwQ3Ge8nG0r0sYJp2dNr6g==",
].join("\n"));
writeFileSync(proposed, [
  "config:",
  "  metahuman:volumeSizeGb: 100",
  "  metahuman:webVcpu: \"2\"",
  "  metahuman:idleTimeout: \"90\"",
  "  metahuman:budgetMonthlyUsd: \"150\"",
].join("\n"));

async function cost(...args: string[]) {
  const env = { ...process.env };
  delete env.RUNPOD_API_KEY;
  return promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/cost.ts", ...args], { env, encoding: "utf8", timeout: 60_000 });
}

describe("npm run cost", () => {
  it("prints the base items and every profile for a stack file", async () => {
    const { stdout } = await cost("--config", current);
    expect(stdout).toContain("Prices: table as of 2026-05-13");
    expect(stdout).toMatch(/web pod\s+4 vCPU cpu3g × \$0.04\/vCPU-h × 730 h\s+116.80/);
    expect(stdout).toMatch(/total\s+budget \$150.00: within budget\s+122.30/);
    expect(stdout).toMatch(/light\s+20\s+3 × 2\s+20\s+420\s+\(120\+200\+0\+100\)\s+0.13\s+3.96\s+126.26/);
  }, 60_000);

  it("--compare shows the settings that differ and the change per profile", async () => {
    const { stdout } = await cost("--config", current, "--compare", proposed, "--json");
    const result = JSON.parse(stdout) as { compare: { change: any } };
    const change = result.compare.change;
    expect(change.settings).toEqual([
      { key: "volumeSizeGb", from: 50, to: 100 },
      { key: "idleTimeout", from: 5, to: 90 },
      { key: "webVcpu", from: 4, to: 2 },
    ]);
    // base: volume +50 × 0.07 = +3.50; pod −2 × 0.04 × 730 = −58.40 → 122.30 → 67.40
    expect(change.baseMonthlyUsd.from).toBeCloseTo(122.3, 6);
    expect(change.baseMonthlyUsd.to).toBeCloseTo(67.4, 6);
    // light with idle 90 s ≥ 60 s pause: 1400 s/day (see estimate.test.ts) vs 420 s/day
    expect(change.profiles.light.to - change.baseMonthlyUsd.to).toBeCloseTo(1400 * 0.00031 * 730 / 24, 6);
    const text = await cost("--config", current, "--compare", proposed);
    expect(text.stdout).toContain("metahuman:idleTimeout: 5 → 90");
    expect(text.stdout).toMatch(/base\s+122.30\s+67.40\s+-\$54.90/);
  }, 60_000);

  it("--chart writes an SVG with a line per config and the budget", async () => {
    const out = join(dir, "chart.svg");
    await cost("--config", current, "--compare", proposed, "--chart", out);
    const svg = readFileSync(out, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain("Pulumi.proposed.yaml");
    expect(svg).toContain("budget $150");
  }, 60_000);

  it("--compare of Pulumi.prod.yaml (the plan's spec) with the documented right-sized config: base at most $30", async () => {
    const { stdout } = await cost("--config", "Pulumi.prod.yaml", "--compare", "docs/examples/Pulumi.right-sized.yaml", "--offline", "--json");
    const result = JSON.parse(stdout) as { estimate: any; compare: { estimate: any; change: any } };
    const small = result.compare.estimate;
    expect(result.estimate.baseMonthlyUsd).toBeGreaterThan(100);
    expect(small.baseMonthlyUsd).toBeLessThanOrEqual(30);
    // the pod runs only in its hours: 2 vCPU × $0.03 × 14 h × 730/24 days
    expect(small.base.webPod).toMatchObject({ flavor: "cpu3c", vcpu: 2, hoursPerDay: 14 });
    expect(small.base.webPod.usdPerMonth).toBeCloseTo(2 * 0.03 * 14 * 730 / 24, 6);
    const text = (await cost("--config", "Pulumi.prod.yaml", "--compare", "docs/examples/Pulumi.right-sized.yaml", "--offline")).stdout;
    expect(text).toContain('metahuman:webHours: "always" → "08:00-22:00 Europe/Berlin"');
    expect(text).toMatch(/plan-light\s+10 × 1 × 30 s\s+12.00\s+4.24/);
  }, 60_000);

  it("a bad value in the stack file names the file, the key and what is allowed", async () => {
    const bad = join(dir, "Pulumi.bad.yaml");
    writeFileSync(bad, "config:\n  metahuman:workersMax: \"0\"\n");
    await expect(cost("--config", bad)).rejects.toMatchObject({
      code: 1, stderr: expect.stringContaining("metahuman:workersMax = \"0\": must be a whole number from 1 to 100"),
    });
  }, 60_000);
});
