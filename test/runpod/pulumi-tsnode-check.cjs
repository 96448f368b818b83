// Type-checks the Pulumi program the way `pulumi preview` does, without running it: the Node.js
// language host starts @pulumi/pulumi's run.js in the program's directory (src/, from Pulumi.yaml's
// `main: src/index.ts`), where there is no tsconfig.json, so ts-node gets run.js's own defaults
// (target ES2020, module nodenext, no project file) instead of the repo's tsconfig.json. Options are
// built by @pulumi/pulumi's own tsutils, as run.js builds them. Prints {checked, errors} as JSON.
const fs = require("node:fs");
const path = require("node:path");

const repo = path.resolve(__dirname, "..", "..");
// Pulumi.yaml decides the program's directory (`main`) and may name a tsconfig (runtime option `tsconfig`).
const project = require(require.resolve("js-yaml", { paths: [repo] })).load(fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8"));
const entry = path.join(repo, project.main ?? "index.ts");
const programDir = path.dirname(entry);
process.chdir(programDir);

const tsutils = require(path.join(repo, "node_modules/@pulumi/pulumi/tsutils"));
const tsConfigPath = project.runtime?.options?.tsconfig ?? "tsconfig.json";
const skipProject = !fs.existsSync(tsConfigPath);
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const tsn = require(require.resolve(tsnodeRequire, { paths: [repo] }));
const ts = require(require.resolve(typescriptRequire, { paths: [repo] }));
const useNodeNext = Number(ts.version.split(".")[0]) >= 5 || ts.version >= "4.7";
const service = tsn.create({
  compiler: require.resolve(typescriptRequire, { paths: [repo] }),
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject,
  compilerOptions: {
    target: "ES2020",
    module: useNodeNext ? "nodenext" : "commonjs",
    moduleResolution: useNodeNext ? "nodenext" : "node",
    sourceMap: "true",
    ...compilerOptions,
  },
});

// The program and every file it imports, as `require` would reach them.
const checked = [];
const errors = [];
const seen = new Set();
function visit(file) {
  if (seen.has(file)) return;
  seen.add(file);
  const code = fs.readFileSync(file, "utf8");
  checked.push(path.relative(repo, file));
  try {
    service.compile(code, file);
  } catch (error) {
    errors.push(String(error.diagnosticText ?? error.message));
  }
  for (const match of code.matchAll(/(?:from|import|require)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    const base = path.resolve(path.dirname(file), match[1]);
    const next = [`${base}.ts`, path.join(base, "index.ts"), base].find((p) => fs.existsSync(p) && fs.statSync(p).isFile() && p.endsWith(".ts"));
    if (next) visit(next);
  }
}
visit(entry);
process.stdout.write(JSON.stringify({ skipProject, checked, errors }));
