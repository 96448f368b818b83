// `pulumi preview` type-checks the program with ts-node under the Node.js runtime's own options, not
// with `tsc -p .`: in src/ (the program's directory) there is no tsconfig.json unless Pulumi.yaml names
// one, so the target is ES2020 and lib es2022 is missing (the `runpod/errors.ts(30,55): error TS2554`
// of issue 10 came from that). This runs that check on the program and everything it imports, in a
// plain node process.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

it("the Pulumi program type-checks under the options Pulumi's Node.js runtime gives ts-node", async () => {
  const { stdout } = await run(process.execPath, [join(__dirname, "pulumi-tsnode-check.cjs")], {
    env: { PATH: process.env.PATH ?? "" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const result = JSON.parse(stdout) as { skipProject: boolean; checked: string[]; errors: string[] };
  // The check saw the program, the providers Pulumi serializes, and the helpers they ship with.
  for (const file of ["src/index.ts", "src/runpod/resources/provider-factory.ts", "src/runpod/rest.ts", "src/common/errors.ts", "src/common/http.ts"]) {
    expect(result.checked).toContain(file);
  }
  expect(result.errors).toEqual([]);
}, 120_000);
