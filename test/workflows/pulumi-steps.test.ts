// Every workflow job that runs the program with the Pulumi CLI installs the CLI release the project is built and tested
// with (scripts/setup-pulumi.sh, @pulumi/pulumi in package.json), and type-checks the program first: Pulumi's runtime
// runs it transpile-only (src/tsconfig.json), so `npm run typecheck` is the only type check before a preview or up.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";

const REPO_ROOT = path.resolve(__dirname, "../..");
const WORKFLOWS = path.join(REPO_ROOT, ".github", "workflows");

interface Step { name?: string; uses?: string; run?: string; with?: Record<string, unknown> }
interface Workflow { jobs: Record<string, { steps?: Step[] }> }

const cliVersion = /^PULUMI_VERSION="v([^"]+)"$/m.exec(readFileSync(path.join(REPO_ROOT, "scripts", "setup-pulumi.sh"), "utf8"))?.[1];
const sdkVersion = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];

const jobs = readdirSync(WORKFLOWS)
  .filter((f) => f.endsWith(".yml"))
  .flatMap((file) => Object.entries((load(readFileSync(path.join(WORKFLOWS, file), "utf8")) as Workflow).jobs).map(([job, { steps = [] }]) => ({ where: `${file} ${job}`, steps })));

describe("the Pulumi CLI in the workflows", () => {
  it("is the release scripts/setup-pulumi.sh builds and @pulumi/pulumi matches", () => {
    expect(cliVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(sdkVersion).toBe(cliVersion);
    const installs = jobs.flatMap(({ where, steps }) => steps.filter((s) => s.uses?.startsWith("pulumi/actions@")).map((s) => ({ where, version: String(s.with?.["pulumi-version"]) })));
    expect(installs.length).toBeGreaterThan(0);
    for (const { where, version } of installs) expect(version, where).toBe(cliVersion);
  });

  it("type-checks the program before every preview or up", () => {
    const runsProgram = /\bpulumi (preview|up)\b/;
    const checked = jobs.filter(({ steps }) => steps.some((s) => runsProgram.test(s.run ?? "")));
    expect(checked.length).toBeGreaterThan(0);
    for (const { where, steps } of checked) {
      const first = steps.findIndex((s) => runsProgram.test(s.run ?? ""));
      const typecheck = steps.findIndex((s) => /\bnpm (run typecheck|test)\b/.test(s.run ?? ""));
      expect(typecheck, `${where}: no \`npm run typecheck\` before \`pulumi preview|up\``).toBeGreaterThanOrEqual(0);
      expect(typecheck, where).toBeLessThan(first);
    }
  });
});
