// `npm run web -- start|stop|status|schedule` — the web pod's hours by hand, for people without CI (the scheduled
// workflow .github/workflows/web-hours.yml runs `schedule`). Only the web pod is started or stopped; the volume and
// the endpoint stay as they are.
//   npm run web -- status                 the pod's state and whether metahuman:webHours wants it running now
//   npm run web -- stop | start           now, whatever the hours say
//   npm run web -- schedule               start in the hours, stop outside them (what the workflow runs)
//   --stack prod | --config FILE          the stack file that holds metahuman:webHours (default Pulumi.prod.yaml)
//   --pod ID                              the pod (default WEB_POD_ID, else `pulumi stack output webPodId`)
// Needs RUNPOD_API_KEY (the deploy key: the web pod's own restricted key cannot stop pods); RUNPOD_API_URL for the emulator.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { readStackFile } from "../src/infra/cost/stack-file";
import { parseWebHours } from "../src/common/daily-window";
import { createRunPodRestClient } from "../src/runpod/rest";
import { applyWebHours, startWebPod, stopWebPod, webPodStatus, WebPodStartRefused } from "../src/runpod/web-pod-hours";

const COMMANDS = ["start", "stop", "status", "schedule"] as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { stack: { type: "string", default: "prod" }, config: { type: "string" }, pod: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
    allowPositionals: true,
    strict: true,
  });
  const command = positionals[0];
  if (values.help || !command || !(COMMANDS as readonly string[]).includes(command) || positionals.length > 1) {
    process.stdout.write("usage: npm run web -- start|stop|status|schedule [--stack prod | --config FILE] [--pod ID]\n");
    return values.help ? 0 : 2;
  }
  if (!process.env.RUNPOD_API_KEY) throw new Error("RUNPOD_API_KEY is not set: starting and stopping the pod needs the account's API key");
  const hours = parseWebHours(readStackFile(values.config ?? `Pulumi.${values.stack}.yaml`).webHours);
  const podId = values.pod ?? process.env.WEB_POD_ID ?? stackOutput("webPodId", values.stack);
  const client = createRunPodRestClient({});

  if (command === "status") {
    const s = await webPodStatus(client, podId, hours);
    process.stdout.write(`web pod ${s.podId}: ${s.status} ($${s.costPerHour}/h while running); webHours ${s.webHours}: `
      + `${s.open ? "should be running now" : "should be stopped now"}\n`);
    return 0;
  }
  const change = command === "start" ? await startWebPod(client, podId)
    : command === "stop" ? await stopWebPod(client, podId)
    : await applyWebHours(client, podId, hours);
  process.stdout.write(`web pod ${podId}: ${change}${command === "schedule" ? ` (webHours ${hours.text})` : ""}\n`);
  return 0;
}

function stackOutput(name: string, stack: string): string {
  try {
    return execFileSync("pulumi", ["stack", "output", name, "--stack", stack], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    throw new Error(`no pod id: pass --pod ID or WEB_POD_ID, or run where \`pulumi stack output ${name} --stack ${stack}\` answers`);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`web: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof WebPodStartRefused ? 3 : 1;
});
