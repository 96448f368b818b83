// The web pod's entry when MetaHuman OS is in the image (METAHUMAN_OS_DIR): check the volume (fatal when METAHUMAN_ROOT
// is not on it: MetaHuman OS would silently fall back to its app folder and lose the person's writes), seed MetaHuman
// OS's defaults where the volume lacks them, write its config files from the stack's outputs, start the gateway on
// loopback, start MetaHuman OS on loopback with an environment that holds no secret of ours, then open the front
// door on HOST:PORT. SIGTERM stops them in the reverse order. Without METAHUMAN_OS_DIR, server.ts runs alone.
import { randomBytes } from "node:crypto";
import { startGateway } from "../gateway/gateway-server";
import { InFlightCalls } from "../gateway/in-flight";
import { configureMetahumanOs, MetahumanConfigError } from "../metahuman-os/config-files";
import { startMetahumanOs } from "../metahuman-os/process";
import { seedFromApp } from "../metahuman-os/seed";
import { buildApp } from "./app";
import { loadEnvAndVolume, refuseToStart } from "./start-checks";

const refuse = (message: string): never => refuseToStart("metahuman web pod", message);

async function main(): Promise<void> {
  const { env, paths } = loadEnvAndVolume("metahuman web pod");
  const appDir = env.METAHUMAN_OS_DIR ?? refuse("METAHUMAN_OS_DIR is required (the built MetaHuman OS, e.g. /opt/metahuman-os)");
  const model = env.LLM_MODEL ?? refuse("LLM_MODEL is required (the model the endpoint serves; MetaHuman OS is configured to ask for it)");
  const seeded = seedFromApp(appDir, env.METAHUMAN_ROOT);
  process.stdout.write(`seeded ${seeded.length} of MetaHuman OS's default files into ${env.METAHUMAN_ROOT}\n`);

  const token = randomBytes(32).toString("base64url");
  const gatewayBaseUrl = `http://127.0.0.1:${env.GATEWAY_PORT}/v1`;
  try {
    const changed = await configureMetahumanOs(env.METAHUMAN_ROOT, { gatewayBaseUrl, model, agents: env.METAHUMAN_AGENTS });
    process.stdout.write(`MetaHuman OS configured (${changed.length ? changed.join(", ") : "no change"}); agents ${env.METAHUMAN_AGENTS}\n`);
  } catch (err) {
    if (err instanceof MetahumanConfigError) return refuse(err.message);
    throw err;
  }

  const inFlight = new InFlightCalls();
  const upstream = `http://127.0.0.1:${env.METAHUMAN_OS_PORT}`;
  let metahumanAlive = false;
  const app = await buildApp(
    {
      env,
      paths,
      door: { upstream, inFlight },
      components: [
        { name: "metahumanOs", check: async (signal) => {
          if (!metahumanAlive) return { ok: false, detail: "MetaHuman OS is not running" };
          const response = await fetch(`${upstream}/`, { redirect: "manual", signal });
          return { ok: response.status < 500, detail: `answers HTTP ${response.status}` };
        } },
        { name: "gateway", check: async (signal) => {
          const response = await fetch(`${gatewayBaseUrl}/models`, { headers: { authorization: `Bearer ${token}` }, signal });
          return { ok: response.ok, detail: `answers HTTP ${response.status}; ${inFlight.size} call(s) in flight` };
        } },
      ],
    },
    // Proxied keep-alive sockets would otherwise hold close() open.
    { forceCloseConnections: true, logger: { level: env.NODE_ENV === "production" ? "info" : "debug", redact: ["req.headers.authorization", "req.headers.cookie"] } },
  );
  const gateway = await startGateway(app.appContext, { port: env.GATEWAY_PORT, token, model, inFlight });
  const metahuman = await startMetahumanOs({
    appDir,
    root: env.METAHUMAN_ROOT,
    port: env.METAHUMAN_OS_PORT,
    gatewayToken: token,
    nodeEnv: env.NODE_ENV,
    log: (line) => process.stdout.write(`[metahuman-os] ${line}\n`),
  }).catch((err: Error) => refuse(err.message));
  metahumanAlive = true;
  const onUnexpectedExit = (code: number | null) => {
    metahumanAlive = false;
    app.log.error({ code }, "MetaHuman OS exited; the pod stops so that RunPod restarts it");
    process.exit(1);
  };
  metahuman.child.once("exit", onUnexpectedExit);

  const close = async (signal: string) => {
    app.log.info({ signal, inFlight: inFlight.size }, "shutting down");
    metahuman.child.off("exit", onUnexpectedExit);
    inFlight.abortAll("the pod is shutting down");
    await app.close();
    app.log.info("front door closed");
    await metahuman.stop();
    app.log.info("MetaHuman OS stopped");
    await gateway.app.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void close("SIGTERM"));
  process.once("SIGINT", () => void close("SIGINT"));
  const address = await app.listen({ host: env.HOST, port: env.PORT });
  process.stdout.write(`metahuman web pod listening on ${address} (MetaHuman OS behind the front door; provider ${env.LLM_PROVIDER}, model ${model})\n`);
}

main().catch((err) => {
  process.stderr.write(`metahuman web pod failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
