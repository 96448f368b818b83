// The house rules of DESIGN.md, checked on the source: every relative import of every file under src/ is
// resolved to the folder it lands in, and no import runs against the allowed directions.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(__dirname, "../../src");

/** Which top-level folders (or `index.ts`, or `scripts`) each folder of src/ may import. */
const ALLOWED: Record<string, readonly string[]> = {
  common: ["common"],
  runpod: ["runpod", "common"],
  app: ["app", "runpod", "common"],
  infra: ["infra", "runpod", "common"],
  emulator: ["emulator", "infra", "runpod", "common"],
  local: ["local", "emulator", "app", "runpod", "infra", "common"],
  volume: ["volume", "runpod", "common"],
  "index.ts": ["infra", "runpod", "common"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "node_modules" ? [] : sourceFiles(full);
    return /\.(ts|js|cjs|mjs)$/.test(name) ? [full] : [];
  });
}

/** Relative module specifiers of import/export-from/require/import() in a file. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s+["'](\.[^"']*)["']/g, /\brequire\(\s*["'](\.[^"']*)["']\s*\)/g, /\bimport\(\s*["'](\.[^"']*)["']\s*\)/g, /^\s*import\s+["'](\.[^"']*)["']/gm];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** The top-level part of src/ a path lands in: a folder name, `index.ts`, or `outside:<first segment>`. */
function areaOf(target: string): string {
  const rel = path.relative(SRC, target);
  if (rel.startsWith("..")) return `outside:${path.relative(path.dirname(SRC), target).split(path.sep)[0]}`;
  return rel.split(path.sep)[0]!;
}

const files = sourceFiles(SRC).filter((file) => !file.includes(`${path.sep}public${path.sep}`));

describe("imports run one way (DESIGN.md)", () => {
  it("finds the source files it checks", () => {
    // A broken scan would pass every rule below; make sure it saw the house.
    for (const area of Object.keys(ALLOWED)) expect(files.some((file) => areaOf(file) === area)).toBe(true);
  });

  it("no file imports a folder it may not", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = areaOf(file);
      const allowed = ALLOWED[from];
      if (allowed === undefined) {
        violations.push(`${path.relative(SRC, file)}: src/${from} is not a folder of DESIGN.md's layout`);
        continue;
      }
      for (const spec of relativeImports(readFileSync(file, "utf8"))) {
        const to = areaOf(path.resolve(path.dirname(file), spec));
        if (!allowed.includes(to)) violations.push(`${path.relative(SRC, file)} imports ${spec} (src/${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("the scan sees an upward import when there is one", () => {
    expect(relativeImports('import { x } from "../../scripts/write-env";\nconst y = require("./z");')).toEqual(["../../scripts/write-env", "./z"]);
    expect(areaOf(path.resolve(SRC, "local", "../../scripts/write-env"))).toBe("outside:scripts");
  });
});
