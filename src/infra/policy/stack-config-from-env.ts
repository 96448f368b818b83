// The stack's config as the policy pack sees it. The Pulumi CLI hands a policy pack the stack's config
// as JSON in PULUMI_CONFIG ({"metahuman:key": "value"}), secrets decrypted: those are dropped here
// before anything else touches the values, so no policy message can ever carry one.
import { CONFIG_NAMESPACE, parseStackConfig, SECRET_KEYS, type StackConfig } from "../config";
import { configFromEngine } from "./engine-config";

export function stackConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fromEngine: Record<string, string> | undefined = configFromEngine(),
): StackConfig {
  const text = env.PULUMI_CONFIG;
  let all: Record<string, unknown> = fromEngine ?? {};
  if (text) {
    try {
      all = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error("PULUMI_CONFIG is not valid JSON: the policy pack cannot read the stack's config");
    }
  }
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if ((SECRET_KEYS as readonly string[]).includes(name)) continue;
    raw[name] = value;
  }
  return parseStackConfig(raw);
}
