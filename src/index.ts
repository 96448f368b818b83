// Pulumi entry point: read the config, declare the stack, export its outputs.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigError, SECRET_KEYS, missingImages, parseStackConfig } from "./infra/config";
import { loadPrices } from "./infra/cost";
import { MetaHumanStack } from "./infra/metahuman-stack";
import { runPreflight } from "./infra/preflight";
import { MetaHumanError } from "./common/errors";
import { repairUncaughtErrorStacks } from "./infra/program-errors";

// First: an error this program fails with is reported in seconds, not after a minute of Node's inspect (see there).
repairUncaughtErrorStacks();

const pulumiConfig = new pulumi.Config(CONFIG_NAMESPACE);

// Every key the schema knows plus every `metahuman:*` key set on the stack, so that a misspelt key
// is reported rather than silently ignored.
const keysOnStack = Object.keys(pulumi.runtime.allConfig())
  .filter((key) => key.startsWith(`${CONFIG_NAMESPACE}:`))
  .map((key) => key.slice(CONFIG_NAMESPACE.length + 1))
  .filter((key) => !(SECRET_KEYS as readonly string[]).includes(key));
const config = parseStackConfig(
  Object.fromEntries([...new Set([...CONFIG_KEYS, ...keysOnStack])].map((key) => [key, pulumiConfig.get(key)])),
);

const unsetImages = missingImages(config);
if (unsetImages.length > 0) throw new ConfigError(unsetImages);

// The API key: a config secret, or RUNPOD_API_KEY wrapped as a secret so that it never reaches state in plaintext.
const envApiKey = process.env.RUNPOD_API_KEY;
const runpodApiKey = pulumiConfig.getSecret("runpodApiKey") ?? (envApiKey ? pulumi.secret(envApiKey) : undefined);
if (!runpodApiKey) {
  throw new Error(
    "metahuman:runpodApiKey is not set: run `pulumi config set --secret metahuman:runpodApiKey <key>` or export RUNPOD_API_KEY",
  );
}
const sessionSecret = pulumiConfig.getSecret("sessionSecret");
if (!sessionSecret) {
  throw new Error(
    'metahuman:sessionSecret is not set: run `pulumi config set --secret metahuman:sessionSecret "$(openssl rand -hex 32)"`',
  );
}

// Preflight: the choices against RunPod's live catalog before anything is created; offline it says it was skipped.
// Its answer (checked or skipped) carries no trace of the key, so it is not a secret (the volume's name waits on it).
const preflight = pulumi.unsecret(runpodApiKey.apply(async (apiKey) => {
  const result = await runPreflight(config, { apiKey });
  if (result.skipped) pulumi.log.warn(`preflight skipped: ${result.skipped}`);
  for (const warning of result.warnings) pulumi.log.warn(`preflight: ${warning}`);
  if (result.problems.length > 0) {
    const message = `Preflight failed (the stack's choices against RunPod's catalog and S3 API):\n  - ${result.problems.join("\n  - ")}`;
    // Logged as well as thrown: a failed dependency of the stack's component ends the run without its message.
    pulumi.log.error(message);
    throw new MetaHumanError({ name: "PreflightError", message });
  }
  return result.checked;
}));

const stack = new MetaHumanStack("metahuman", {
  config,
  // Prices carry no trace of the key, so they need not stay secret (a secret would hide the estimate in previews).
  prices: pulumi.unsecret(pulumi.all([runpodApiKey, preflight]).apply(([apiKey]) => loadPrices({ apiKey }))),
  deployApiKey: runpodApiKey,
  // The web pod's own, restricted key; the deploy key stays with Pulumi.
  webRunpodApiKey: pulumiConfig.getSecret("webRunpodApiKey"),
  sessionSecret,
  preflight,
});

export const volumeId = stack.volumeId;
export const endpointId = stack.endpointId;
export const webPodId = stack.webPodId;
export const webUrl = stack.webUrl;
export const dataCenter = stack.dataCenter;
export const costEstimate = stack.costEstimate;
/** The web pod's env, secrets included: a secret output, read by scripts/write-env with --show-secrets. */
export const webEnv = stack.webEnv;
