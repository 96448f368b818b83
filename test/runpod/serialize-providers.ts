// Run with tsx (as Pulumi runs a TypeScript program): serializes each dynamic provider exactly as
// @pulumi/pulumi's dynamic.Resource does, and prints {name: text} as JSON.
import * as pulumi from "@pulumi/pulumi";
import { networkVolumeProvider } from "../../src/runpod/resources/network-volume";
import { podProvider } from "../../src/runpod/resources/pod";
import { serverlessEndpointProvider } from "../../src/runpod/resources/serverless-endpoint";

async function main() {
  const providers = { volume: networkVolumeProvider, endpoint: serverlessEndpointProvider, pod: podProvider };
  const out: Record<string, string> = {};
  for (const [name, provider] of Object.entries(providers)) {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    out[name] = serialized.text;
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
