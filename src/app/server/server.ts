// Entry point of the web pod: read and validate the env, open the volume (both fatal
// when wrong), build the app, listen on HOST:PORT; on SIGTERM drain the chats
// (chat-drain.ts), close, exit 0.
import { buildApp } from "./app";
import { loadEnvAndVolume } from "./start-checks";

async function main(): Promise<void> {
  const { env, paths } = loadEnvAndVolume("metahuman web server");
  const app = await buildApp(
    { env, paths },
    { logger: { level: env.NODE_ENV === "production" ? "info" : "debug", redact: ["req.headers.authorization", "req.headers.cookie"] } },
  );
  // New chats get 503 at once; open ones may finish within SHUTDOWN_GRACE_MS, then they are stopped and
  // their RunPod jobs cancelled (nobody would receive the answers, and the GPU would be billed for them).
  const close = async (signal: string) => {
    app.log.info({ signal, openChats: app.openChats.size, graceMs: env.SHUTDOWN_GRACE_MS }, "shutting down");
    const drained = await app.openChats.drain(env.SHUTDOWN_GRACE_MS);
    app.log.info(drained, "chats drained");
    await app.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void close("SIGTERM"));
  process.once("SIGINT", () => void close("SIGINT"));
  const address = await app.listen({ host: env.HOST, port: env.PORT });
  // One machine-readable line, so tests and scripts learn the port when PORT=0.
  process.stdout.write(`metahuman web server listening on ${address} (provider ${env.LLM_PROVIDER})\n`);
}

main().catch((err) => {
  process.stderr.write(`metahuman web server failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
