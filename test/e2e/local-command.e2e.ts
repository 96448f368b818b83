// `npm run local` itself, as a person runs it: the command in its own process group (a terminal's
// foreground job), wait for the printed URL, use it, then Ctrl-C (SIGINT to the group) → exit 0 and no
// web server or worker process left behind.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../src/local/local-stack";
import { metahumanChat, metahumanCookie, processesTagged, until } from "./local-helpers";

const tag = `smoke-${randomBytes(6).toString("hex")}`;
const dataDir = mkdtempSync(path.join(tmpdir(), "metahuman-local-cmd-"));
let child: ChildProcess | undefined;
let output = "";

afterAll(async () => {
  // If a step failed before the Ctrl-C, end the whole group now.
  if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
  }
  for (const pid of processesTagged(tag)) {
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm run local", () => {
  it("prints the URL, serves it, and stops everything on Ctrl-C with exit 0", async () => {
    child = spawn("npm", ["run", "local"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        METAHUMAN_LOCAL_DIR: dataDir,
        METAHUMAN_LOCAL_TAG: tag,
        PORT: "0",
        RUNPOD_EMULATOR_PORT: "0",
        // The worker stays up for the whole test, so the Ctrl-C has one to stop.
        LOCAL_IDLE_TIMEOUT_MS: "120000",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child!.once("exit", (code, signal) => resolve({ code, signal }));
    });
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { output += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { output += d; });

    let finished = false;
    void exited.then(() => { finished = true; });
    await until("the printed URL", () => {
      if (finished) throw new Error(`npm run local exited before printing its URL:\n${output}`);
      return /open\s+http:\/\/127\.0\.0\.1:\d+/.test(output);
    }, 180_000).catch((err) => { throw new Error(`${(err as Error).message}\n${output}`); });
    const webUrl = /open\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
    expect(output).toContain("echo engine instead of vLLM");
    const login = /log in\s+(\S+) \/ (\S+)/.exec(output);
    expect(login?.[1]).toBe("demo");

    expect((await fetch(`${webUrl}/api/health`)).status).toBe(200);
    // One chat, so a worker process exists for the Ctrl-C to stop.
    const cookie = await metahumanCookie(webUrl, login![1]!, login![2]!);
    expect((await metahumanChat(webUrl, cookie, "hello before ctrl-c")).response).toContain("hello before ctrl-c");
    // The web server and the worker (with its SDK ping process) carry the tag.
    expect(processesTagged(tag).length).toBeGreaterThanOrEqual(2);

    process.kill(-child.pid!, "SIGINT");
    const how = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000))]);
    expect(how, output).toEqual({ code: 0, signal: null });
    expect(output).toContain("stopped.");
    expect(processesTagged(tag)).toEqual([]);
    await expect(fetch(`${webUrl}/api/health`)).rejects.toThrow();
  });

  it("refuses to start when the web port is taken, naming the port and the variable, and starts nothing", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const otherDir = mkdtempSync(path.join(tmpdir(), "metahuman-local-busy-"));
    try {
      const result = await new Promise<{ code: number | null; text: string }>((resolve) => {
        const p = spawn("npm", ["run", "local"], {
          cwd: REPO_ROOT,
          env: { ...process.env, METAHUMAN_LOCAL_DIR: otherDir, PORT: String(port), RUNPOD_EMULATOR_PORT: "0" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let text = "";
        p.stdout.setEncoding("utf8").on("data", (d: string) => { text += d; });
        p.stderr.setEncoding("utf8").on("data", (d: string) => { text += d; });
        p.once("exit", (code) => resolve({ code, text }));
      });
      expect(result.code, result.text).toBe(1);
      expect(result.text).toContain(`port ${port} on 127.0.0.1 is taken`);
      expect(result.text).toContain("set PORT to a free port");
      // It stopped before the stack: no state, no env file.
      expect(existsSync(path.join(otherDir, "pulumi"))).toBe(false);
      expect(existsSync(path.join(otherDir, "web.env"))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
