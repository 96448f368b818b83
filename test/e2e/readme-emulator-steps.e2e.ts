// docs/deploy.md's "The same steps against the local emulator", pasted into a shell as a person would: the command lines
// are read out of docs/deploy.md and run as written by bash, in a throwaway directory laid out like a clone (Pulumi.yaml
// copied; src, node_modules, package.json, tsconfig.json and .tools linked), with a fresh HOME and none of the
// developer's RUNPOD_* or PULUMI_* variables. Nothing is added to how Pulumi runs the program: its Node.js runtime
// runs it with ts-node and src/tsconfig.json, as for a user. The only thing the test adds is a check after each line (a line that
// fails stops the run, naming itself) and, after the last line, a look at what the emulator holds.
//
// The doc's emulator listens on the fixed port 8787. Where the kernel allows it (root, or user namespaces), the
// steps run in a network namespace of their own with only a loopback, so 8787 is theirs even while another
// emulator runs on this machine; elsewhere 8787 must be free, and the test says so when it is not.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pulumiBinary, REPO_ROOT, withoutAnsi } from "./harness";
import { until } from "./local-helpers";

const SECTION = "### The same steps against the local emulator";
const README_PORT = 8787;

/** The doc holding the steps (README.md links to it). */
const DOC = "docs/deploy.md";

/** The first ```sh block under a heading of a Markdown doc, as its lines. */
export function readmeShellBlock(readme: string, heading: string): string[] {
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${DOC} has no section "${heading}"`);
  const next = readme.slice(at + heading.length + 2).search(/\n#{1,3} /);
  const section = readme.slice(at, next < 0 ? undefined : at + heading.length + 2 + next);
  const block = /```(?:sh|bash)\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`${DOC}'s section "${heading}" has no sh block`);
  return block[1]!.split("\n").filter((line) => line.trim() !== "");
}

/**
 * The block as one bash script: each line as written, followed by a check that stops the script naming the line
 * when it fails (a pasted `a && b` goes on after a failure; the test must not). A line's trailing `# comment` is
 * dropped so the check is not commented out; a background line (`cmd &`) cannot fail in place and stays as it is.
 */
export function checkedScript(lines: string[]): string {
  const out = ["set -o pipefail"];
  for (const line of lines) {
    const command = line.replace(/\s+#\s.*$/, "").trimEnd();
    if (command.startsWith("#") || command === "") continue;
    if (command.endsWith("&")) {
      out.push(command);
      continue;
    }
    const quoted = `'${command.replace(/'/g, `'\\''`)}'`;
    out.push(`printf '\\n$ %s\\n' ${quoted}`);
    out.push(`${command} || { status=$?; printf '\\nREADME line failed (exit %s): %s\\n' "$status" ${quoted} >&2; exit 1; }`);
  }
  return out.join("\n");
}

/** Whether this process may make a network namespace with a working loopback (root, or user namespaces). */
function canIsolateNetwork(): boolean {
  const probe = spawnSync("unshare", ["--net", "--map-root-user", "sh", "-c", "ip link set lo up"], { stdio: "ignore", timeout: 10_000 });
  return probe.status === 0;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ host: "127.0.0.1", port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe(`${DOC}: ${SECTION.replace(/^#+ /, "")}`, () => {
  const lines = readmeShellBlock(readFileSync(path.join(REPO_ROOT, DOC), "utf8"), SECTION);

  it("is the block the test expects to run (emulator, stack, preview, up, outputs, destroy)", () => {
    const text = lines.join("\n");
    for (const step of ["npm run emulator -- --no-endpoint &", "pulumi stack init local", "pulumi preview", "pulumi up --yes", "pulumi stack output --json", "pulumi destroy --yes --exclude-protected"]) {
      expect(text, `${DOC}'s block lost "${step}"`).toContain(step);
    }
    // Nothing in it changes how Pulumi's Node.js runtime runs the program.
    expect(text).not.toMatch(/TRANSPILE_ONLY|typeCheck/i);
  });

  it("stops at the first line that fails, naming it (so a failing step fails this test)", () => {
    const script = checkedScript(["echo first   # a comment", "false && echo never", "echo after"]);
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("first");
    expect(run.stderr).toContain("README line failed (exit 1): false && echo never");
    expect(run.stdout).not.toContain("after");
  });

  it("passes when pasted into a shell, word for word", async () => {
    pulumiBinary(); // fails with the setup command when the CLI is missing
    const dir = mkdtempSync(path.join(tmpdir(), "metahuman-readme-"));
    dirs.push(dir);
    const clone = path.join(dir, "metahuman-runpod");
    const home = path.join(dir, "home");
    mkdirSync(clone);
    mkdirSync(home);
    copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(clone, "Pulumi.yaml"));
    for (const entry of ["src", "scripts", "node_modules", "package.json", "tsconfig.json", ".tools"]) {
      symlinkSync(path.join(REPO_ROOT, entry), path.join(clone, entry));
    }

    // After the doc's last line, the test's own look at the emulator (inside the same network namespace):
    // the stack's endpoint and pod are gone, its protected volume is kept.
    const inspect = `node -e '
      const get = async (p) => (await fetch("http://127.0.0.1:${README_PORT}" + p, { headers: { authorization: "Bearer " + process.env.RUNPOD_API_KEY } })).json();
      (async () => console.log("EMULATOR " + JSON.stringify({ volumes: await get("/v2/network-volumes"), endpoints: await get("/v2/serverless"), pods: await get("/v2/pods") })))().catch((e) => { console.error(e); process.exit(1); });'`;
    const script = `${checkedScript(lines)}\n${inspect}\n`;

    const isolated = canIsolateNetwork();
    if (!isolated && !(await portFree(README_PORT))) {
      throw new Error(`port ${README_PORT} on 127.0.0.1 is taken and this machine cannot give docs/deploy.md's steps a network namespace of their own (unshare --net): stop what listens on ${README_PORT} and run the test again`);
    }
    const env: NodeJS.ProcessEnv = { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: process.env.LANG ?? "C.UTF-8" };
    const [command, args] = isolated
      ? ["unshare", ["--net", "--map-root-user", "bash", "-c", `ip link set lo up && exec bash -c "$0"`, script]]
      : ["bash", ["-c", script]];
    const child = spawn(command, args as string[], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { output += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { output += d; });
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    // `npm run emulator &` is still running in the script's process group: stop it.
    try { process.kill(-child.pid!, "SIGTERM"); } catch { /* already gone */ }
    // Its own Ctrl-C handling ends it at once; give it up to 5 s to go (the group no longer exists), then force it.
    await until("README's emulator to stop", () => { try { process.kill(-child.pid!, 0); return false; } catch { return true; } }, 5_000, 20)
      .catch(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone meanwhile */ } });
    output = withoutAnsi(output);

    expect(code, output).toBe(0);
    expect(output).toContain("local RunPod listening on http://127.0.0.1:8787");
    // `pulumi stack output --json` printed the three ids.
    const outputsJson = /\$ pulumi stack output --json\n(\{[\s\S]*?\n\})/.exec(output)?.[1];
    expect(outputsJson, output).toBeDefined();
    const outputs = JSON.parse(outputsJson!) as Record<string, unknown>;
    for (const key of ["volumeId", "endpointId", "webPodId", "webUrl", "dataCenter", "costEstimate"]) {
      expect(outputs[key], `${key} in the outputs`).toBeDefined();
    }
    const state = JSON.parse(/^EMULATOR (.*)$/m.exec(output)?.[1] ?? "null") as Record<string, unknown>;
    const items = (v: unknown): { id: string }[] => (Array.isArray(v) ? v : (Object.values(v as object).find(Array.isArray) as { id: string }[]));
    // (`npm run emulator` may hold resources of its own; the stack's are the ones named by its outputs.)
    expect(items(state.volumes).map((v) => v.id), output).toContain(outputs.volumeId);
    expect(items(state.endpoints).map((e) => e.id), output).not.toContain(outputs.endpointId);
    expect(items(state.pods).map((p) => p.id), output).not.toContain(outputs.webPodId);
  });
});
