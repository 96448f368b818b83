// Turns `pulumi stack output --json --show-secrets` into the web pod's dotenv file (the seed's .env.production),
// validated by the same schema the web pod starts with (src/app/env.ts).
//
//   pulumi stack output --json --show-secrets | npx tsx scripts/write-env.ts --out .env.production
//   npx tsx scripts/write-env.ts --stack-output outputs.json --out .env.production [--set KEY=VALUE ...]
//
// The file holds secrets: it is written atomically with mode 0600, and nothing of it is printed.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { z } from "zod";
import { EnvError, parseWebEnv } from "../src/app/env";

/** The stack outputs this script needs. `webEnv` is a secret output: only `--show-secrets` reveals it. */
const REQUIRED_OUTPUTS = ["webEnv", "endpointId", "volumeId"] as const;

const webEnvOutputSchema = z.record(z.string(), z.string());

export class WriteEnvError extends Error {
  override name = "WriteEnvError";
}

/** Builds the dotenv text from parsed stack outputs; `overrides` win (e.g. local base URLs). */
export function envFileFromOutputs(outputs: unknown, overrides: Record<string, string> = {}): string {
  if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs)) {
    throw new WriteEnvError("stack outputs must be a JSON object, as printed by `pulumi stack output --json --show-secrets`");
  }
  const record = outputs as Record<string, unknown>;
  const missing = REQUIRED_OUTPUTS.filter((name) => record[name] === undefined);
  if (missing.length > 0) {
    throw new WriteEnvError(`stack output ${missing.map((m) => `"${m}"`).join(", ")} is missing; found ${Object.keys(record).join(", ") || "none"}`);
  }
  if (record.webEnv === "[secret]") {
    throw new WriteEnvError('stack output "webEnv" is hidden as [secret]: run `pulumi stack output --json --show-secrets`');
  }
  const parsedEnv = webEnvOutputSchema.safeParse(record.webEnv);
  if (!parsedEnv.success) {
    throw new WriteEnvError('stack output "webEnv" must be an object of string values (the web pod\'s environment)');
  }
  const env = { ...parsedEnv.data, ...overrides };
  if (env.RUNPOD_ENDPOINT_ID !== record.endpointId) {
    throw new WriteEnvError(`stack output "webEnv".RUNPOD_ENDPOINT_ID does not match "endpointId" (${String(record.endpointId)})`);
  }
  parseWebEnv(env); // throws EnvError naming the bad variable, never its secret value
  return Object.entries(env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${quote(key, value)}`)
    .join("\n") + "\n";
}

/**
 * dotenv has no escapes except `\n` inside double quotes, so a value is wrapped in a quote character it does
 * not contain: single quotes (literal) first, then backticks, then double quotes when no `\n` would be expanded.
 */
function quote(key: string, value: string): string {
  for (const q of ["'", "`"]) if (!value.includes(q)) return `${q}${value}${q}`;
  if (!value.includes('"') && !value.includes("\\n")) return `"${value}"`;
  throw new WriteEnvError(`${key} holds all three quote characters and cannot be written to a dotenv file; change that value`);
}

/** Atomic write: a temp file beside the target, fsync, rename; readable by the owner only. */
export function writeFileAtomic(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

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

function main(): void {
  try {
    const { input, out, overrides } = parseArgs(process.argv.slice(2));
    const text = readFileSync(input === "-" ? 0 : input, "utf8");
    let outputs: unknown;
    try {
      outputs = JSON.parse(text);
    } catch {
      throw new WriteEnvError(`${input === "-" ? "stdin" : input} is not JSON: pipe \`pulumi stack output --json --show-secrets\` into it`);
    }
    writeFileAtomic(out, envFileFromOutputs(outputs, overrides));
    process.stdout.write(`wrote ${out} (mode 0600; it holds secrets: never commit it)\n`);
  } catch (error) {
    if (error instanceof WriteEnvError || error instanceof EnvError) {
      process.stderr.write(`write-env: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

if (require.main === module) main();
