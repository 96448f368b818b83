// `pulumi preview|up` runs the program transpile-only (src/tsconfig.json), so the type check of everything it runs is
// `npm run typecheck` alone. These checks keep that true: the repository's tsconfig.json must cover every file the
// program reaches, with `isolatedModules` (each file must transpile on its own, as ts-node's transpile-only does), and
// the options the runtime hands ts-node must be the repository's. test/e2e/type-check.e2e.ts runs the real runtime.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";

const repo = path.resolve(__dirname, "..", "..");
const project = load(readFileSync(path.join(repo, "Pulumi.yaml"), "utf8")) as { main: string };
const entry = path.join(repo, project.main);
// The runtime starts the program in its entry point's folder and reads the tsconfig.json it finds there.
const runtimeTsconfig = path.join(path.dirname(entry), "tsconfig.json");

function parsed(file: string): ts.ParsedCommandLine {
  const config = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } });
  if (!config) throw new Error(`${file}: not a tsconfig`);
  return config;
}

function raw(file: string): { compilerOptions?: Record<string, unknown>; "ts-node"?: Record<string, unknown> } {
  return ts.parseConfigFileTextToJson(file, readFileSync(file, "utf8")).config;
}

// Every .ts file the program reaches through relative imports, as `require` follows them.
function programFiles(): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(/(?:from|import|require)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const base = path.resolve(path.dirname(file), match[1]!);
      const next = [`${base}.ts`, path.join(base, "index.ts"), base].find((p) => existsSync(p) && statSync(p).isFile() && p.endsWith(".ts"));
      if (next) visit(next);
    }
  };
  visit(entry);
  return [...seen];
}

describe("how Pulumi's Node.js runtime runs the program", () => {
  it("npm run typecheck covers every file the program reaches, each one transpilable on its own", () => {
    const root = parsed(path.join(repo, "tsconfig.json"));
    const files = programFiles();
    // The program, its providers (serialized into state) and the helpers they ship with.
    for (const file of ["src/index.ts", "src/runpod/resources/provider-factory.ts", "src/runpod/rest.ts", "src/common/errors.ts"]) {
      expect(files.map((f) => path.relative(repo, f))).toContain(file);
    }
    const checked = new Set(root.fileNames.map((f) => path.resolve(f)));
    expect(files.filter((f) => !checked.has(f)).map((f) => path.relative(repo, f))).toEqual([]);
    expect(root.options.isolatedModules).toBe(true);
    expect(root.options.noCheck).toBeFalsy();
  });

  it("ts-node gets the repository's compiler options and transpiles only", () => {
    const written = raw(runtimeTsconfig);
    expect(written["ts-node"]).toEqual({ transpileOnly: true });
    // The runtime puts its own target/module/moduleResolution under the options written in the file itself.
    const rootWritten = raw(path.join(repo, "tsconfig.json")).compilerOptions ?? {};
    for (const key of ["target", "module", "moduleResolution"]) {
      expect(String(written.compilerOptions?.[key]).toLowerCase(), key).toBe(String(rootWritten[key]).toLowerCase());
    }
    // Everything else comes from the repository's tsconfig.json, so editors and tsc see the same program.
    const runtime = parsed(runtimeTsconfig).options;
    const root = parsed(path.join(repo, "tsconfig.json")).options;
    const differs = Object.keys({ ...root, ...runtime }).filter((k) => k !== "configFilePath" && JSON.stringify(runtime[k]) !== JSON.stringify(root[k]));
    expect(differs).toEqual([]);
    expect(runtime.noCheck).toBeFalsy();
  });
});
