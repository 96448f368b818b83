// `npm run emulator [-- --port 8787]`: the local RunPod on 127.0.0.1. The API key is RUNPOD_API_KEY,
// or `local-dev-key` when unset (documented, loopback only). Prints the base URLs to export.
import { parseArgs } from "node:util";
import { buildEmulator } from "../emulator/emulator";

export const LOCAL_DEFAULT_API_KEY = "local-dev-key";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8787" }, host: { type: "string", default: "127.0.0.1" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port ${values.port} is not allowed: give an integer from 0 to 65535`);
  }
  const apiKey = process.env.RUNPOD_API_KEY || LOCAL_DEFAULT_API_KEY;
  const app = await buildEmulator({ apiKey });
  const address = await app.listen({ port, host: values.host });
  const usingDefault = !process.env.RUNPOD_API_KEY;
  console.log(`local RunPod listening on ${address}`);
  console.log(`  RUNPOD_API_URL=${address}`);
  console.log(`  RUNPOD_SERVERLESS_URL=${address}/v2`);
  console.log(`  RUNPOD_API_KEY=${usingDefault ? LOCAL_DEFAULT_API_KEY + "   (local default)" : "(from your environment)"}`);
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
