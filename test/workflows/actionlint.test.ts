// The CI workflows lint clean with actionlint (pinned; built into .tools/bin by scripts/setup-actionlint.sh).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const REPO_ROOT = path.resolve(__dirname, "../..");
const ACTIONLINT = path.join(REPO_ROOT, ".tools", "bin", "actionlint");
const run = promisify(execFile);

function actionlint(): string {
  if (!existsSync(ACTIONLINT)) throw new Error(`${ACTIONLINT} is missing: run \`bash scripts/setup-actionlint.sh\` first`);
  return ACTIONLINT;
}

interface Finding { message: string; filepath: string; line: number; kind: string }

async function lint(cwd: string, files: string[] = []): Promise<{ code: number; findings: Finding[] }> {
  try {
    const { stdout } = await run(actionlint(), ["-no-color", "-format", "{{json .}}", ...files], { cwd, encoding: "utf8" });
    return { code: 0, findings: JSON.parse(stdout || "[]") as Finding[] };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (e.code !== 1) throw new Error(`actionlint failed to run (exit ${e.code}): ${e.stderr}`);
    return { code: 1, findings: JSON.parse(e.stdout || "[]") as Finding[] };
  }
}

const scratch = mkdtempSync(path.join(tmpdir(), "actionlint-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("GitHub Actions workflows", () => {
  it("has the pull-request and deploy workflows", () => {
    for (const name of ["pull-request.yml", "deploy.yml"]) {
      expect(existsSync(path.join(REPO_ROOT, ".github", "workflows", name)), name).toBe(true);
    }
  });

  it("lint clean with actionlint", async () => {
    const { code, findings } = await lint(REPO_ROOT);
    expect(findings.map((f) => `${f.filepath}:${f.line}: ${f.message} [${f.kind}]`)).toEqual([]);
    expect(code).toBe(0);
  });

  it("actionlint does report a broken workflow (so the check above can fail)", async () => {
    mkdirSync(path.join(scratch, ".github", "workflows"), { recursive: true });
    writeFileSync(path.join(scratch, ".github", "workflows", "bad.yml"), [
      "on: push",
      "jobs:",
      "  x:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - run: echo ${{ github.event.pull_request.title }}",
      "      - uses: actions/checkout@v4",
      "        with:",
      "          not-an-input: 1",
    ].join("\n"));
    const { code, findings } = await lint(scratch, [path.join(".github", "workflows", "bad.yml")]);
    expect(code).toBe(1);
    expect(findings.map((f) => f.kind)).toEqual(expect.arrayContaining(["expression", "action"]));
  });
});
