// Reads a Pulumi.<stack>.yaml through the stack's config schema, for the cost CLI (which runs without the
// Pulumi engine). Encrypted values (`secure:`) and the secret keys are skipped: the estimate needs neither.
import { readFileSync } from "node:fs";
import { CONFIG_NAMESPACE, parseStackConfig, SECRET_KEYS, type StackConfig } from "../config";

import { load } from "js-yaml";

export function parseStackFile(text: string, fileName = "stack file"): StackConfig {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (error) {
    throw new Error(`${fileName}: not valid YAML (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
  }
  const config = (doc as { config?: unknown } | null | undefined)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`${fileName}: "config" must be a map of ${CONFIG_NAMESPACE}:<key>: <value>`);
  }
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    const name = key.slice(CONFIG_NAMESPACE.length + 1);
    if ((SECRET_KEYS as readonly string[]).includes(name)) continue;
    if (typeof value === "object" && value !== null && "secure" in value) continue;
    raw[name] = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
  }
  try {
    return parseStackConfig(raw);
  } catch (error) {
    throw new Error(`${fileName}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function readStackFile(path: string): StackConfig {
  return parseStackFile(readFileSync(path, "utf8"), path);
}
