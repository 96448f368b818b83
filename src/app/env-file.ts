// The web pod's dotenv file (the seed's .env.production) from `pulumi stack output --json --show-secrets`,
// validated by the same schema the web pod starts with (./env.ts). Used by scripts/write-env and `npm run local`.
import { z } from "zod";
import { parseWebEnv } from "./env";

/** The stack outputs the file is made from. `webEnv` is a secret output: only `--show-secrets` reveals it. */
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
