// `npm run write-env`: turns `pulumi stack output --json --show-secrets` into the web pod's dotenv file.
//
//   pulumi stack output --json --show-secrets | npm run -s write-env -- --out .env.production
//   npm run -s write-env -- --stack-output outputs.json --out .env.production [--set KEY=VALUE ...]
//
// The file holds secrets: it is written atomically with mode 0600, and nothing of it is printed.
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../src/common/atomic-file";
import { EnvError } from "../src/app/env";
import { WriteEnvError, envFileFromOutputs } from "../src/app/env-file";

function parseArgs(argv: string[]): { input: string; out: string; overrides: Record<string, string> } {
  let input = "-";
  let out = ".env.production";
  const overrides: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new WriteEnvError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--stack-output") input = value();
    else if (arg === "--out") out = value();
    else if (arg === "--set") {
      const pair = value();
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new WriteEnvError(`--set takes KEY=VALUE, got ${JSON.stringify(pair.split("=")[0])}`);
      overrides[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: write-env [--stack-output FILE|-] [--out .env.production] [--set KEY=VALUE ...]\n");
      process.exit(0);
    } else throw new WriteEnvError(`unknown argument ${JSON.stringify(arg)}; allowed: --stack-output, --out, --set`);
  }
  return { input, out, overrides };
}

async function main(): Promise<void> {
  try {
    const { input, out, overrides } = parseArgs(process.argv.slice(2));
    const text = readFileSync(input === "-" ? 0 : input, "utf8");
    let outputs: unknown;
    try {
      outputs = JSON.parse(text);
    } catch {
      throw new WriteEnvError(`${input === "-" ? "stdin" : input} is not JSON: pipe \`pulumi stack output --json --show-secrets\` into it`);
    }
    await writeFileAtomic(out, envFileFromOutputs(outputs, overrides));
    process.stdout.write(`wrote ${out} (mode 0600; it holds secrets: never commit it)\n`);
  } catch (error) {
    if (error instanceof WriteEnvError || error instanceof EnvError) {
      process.stderr.write(`write-env: ${error.message}\n`);
      process.exit(1);
    }
    // A full disk or a folder we may not write: say which, without a stack trace (the temp file is already gone).
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) {
      process.stderr.write(`write-env: could not write the file: ${code} (${(error as Error).message})\n`);
      process.exit(1);
    }
    throw error;
  }
}

void main();
