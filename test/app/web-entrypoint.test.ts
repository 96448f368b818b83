// docker/web-entrypoint.sh, run for real with sh as root against temp folders and a fake
// mountinfo: it creates METAHUMAN_ROOT only on a mounted volume, changes the owner of that
// one folder only, and always execs its command as uid/gid 1000, never as root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SERVER_COMMAND } from "../../src/app/server/command";
import { SECRET_VARIABLES } from "../../src/app/env";
import { TEST_SECRET } from "./helpers";

const REPO = path.resolve(__dirname, "../..");
const SCRIPT = path.join(REPO, "docker", "web-entrypoint.sh");
const IS_ROOT = process.getuid?.() === 0;
// Prints the uid, the gid and the argument it was given, so a test sees both who ran
// the command and that "$@" arrived intact.
const PROBE = ["sh", "-c", 'echo "$(id -u) $(id -g) [$1]"', "probe", "two words"];

const temps: string[] = [];
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
});

/** A temp folder with a `vol` folder in it, and a mountinfo that may list `vol` as mounted. */
function setup(mount: "mounted" | "not-mounted" | "tmpfs"): { dir: string; vol: string; mountinfo: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mh-entry-"));
  temps.push(dir);
  fs.chmodSync(dir, 0o755); // uid 1000 must be able to reach the volume, as on a pod
  const vol = path.join(dir, "vol");
  fs.mkdirSync(vol, { mode: 0o755 });
  const lines = ["22 1 0:31 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c"];
  if (mount === "mounted") lines.push(`30 22 0:52 / ${vol} rw,relatime - fuse.mfs mfs#volume rw,user_id=0,group_id=0`);
  if (mount === "tmpfs") lines.push(`30 22 0:52 / ${vol} rw,nosuid - tmpfs tmpfs rw,size=65536k`);
  // A mount elsewhere that must not count for the volume.
  lines.push("40 22 0:60 / /dev/shm rw - tmpfs shm rw,size=65536k");
  const mountinfo = path.join(dir, "mountinfo");
  fs.writeFileSync(mountinfo, lines.join("\n") + "\n");
  return { dir, vol, mountinfo };
}

function runEntrypoint(env: Record<string, string>, command: string[] = PROBE): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("sh", [SCRIPT, ...command], { cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function owner(p: string): string {
  const s = fs.statSync(p);
  return `${s.uid}:${s.gid}`;
}

describe.skipIf(!IS_ROOT)(`docker/web-entrypoint.sh${IS_ROOT ? "" : " (skipped: needs to run as root to chown and drop privileges)"}`, () => {
  it("creates a missing METAHUMAN_ROOT on a mounted volume, owned by 1000, and execs the command as 1000:1000", () => {
    const { vol, mountinfo } = setup("mounted");
    const root = path.join(vol, "metahuman");
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`web-entrypoint: created METAHUMAN_ROOT "${root}" on the volume mounted at "${vol}", owned by 1000:1000`);
    expect(lines[1]).toBe("1000 1000 [two words]");
    expect(fs.statSync(root).isDirectory()).toBe(true);
    expect(owner(root)).toBe("1000:1000");
    expect(owner(vol)).toBe("0:0"); // the mount point itself is left as it is
  });

  it("creates every missing level below the mount point, each owned by 1000", () => {
    const { vol, mountinfo } = setup("mounted");
    const root = path.join(vol, "data", "metahuman");
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: `${root}/` });
    expect(r.status, r.stderr).toBe(0);
    expect(owner(path.join(vol, "data"))).toBe("1000:1000");
    expect(owner(root)).toBe("1000:1000");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1000 1000 [two words]");
  });

  it("creates nothing when the volume is not mounted, and still execs the command as 1000", () => {
    const { dir, vol, mountinfo } = setup("not-mounted");
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: path.join(vol, "metahuman") });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`"${vol}" is not a mounted volume; created nothing`);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1000 1000 [two words]");
    expect(fs.readdirSync(vol)).toEqual([]);
    // Nor anywhere up the chain when the mount point folder itself is missing.
    const r2 = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: path.join(dir, "runpod-volume", "metahuman") });
    expect(r2.stdout).toContain(`"${dir}" is not a mounted volume; created nothing`);
    expect(fs.readdirSync(dir).sort()).toEqual(["mountinfo", "vol"]);
  });

  it("creates nothing on a RAM-backed mount, which a restart would wipe", () => {
    const { vol, mountinfo } = setup("tmpfs");
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: path.join(vol, "metahuman") });
    expect(r.stdout).toContain("is a tmpfs mount");
    expect(fs.readdirSync(vol)).toEqual([]);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1000 1000 [two words]");
  });

  it("changes the owner of an existing METAHUMAN_ROOT owned by someone else, and nothing inside it", () => {
    const { vol, mountinfo } = setup("mounted");
    const root = path.join(vol, "metahuman");
    fs.mkdirSync(path.join(root, "memory"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(root, "memory", "note.json"), "{}", { mode: 0o600 });
    fs.writeFileSync(path.join(root, "top.json"), "{}", { mode: 0o640 });
    fs.chownSync(root, 1234, 1234);
    fs.chownSync(path.join(root, "memory"), 1234, 1234);
    const before = (p: string) => ({ owner: owner(p), mode: fs.statSync(p).mode });
    const inside = ["memory", "memory/note.json", "top.json"].map((p) => path.join(root, p));
    const snapshot = inside.map(before);

    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`METAHUMAN_ROOT "${root}" was owned by 1234:1234; changed that folder (not its contents) to 1000:1000`);
    expect(owner(root)).toBe("1000:1000");
    expect(inside.map(before)).toEqual(snapshot);
    expect(owner(path.join(root, "memory"))).toBe("1234:1234");
    expect(owner(path.join(root, "top.json"))).toBe("0:0");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1000 1000 [two words]");

    // A second start finds it ready and changes nothing.
    const again = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root });
    expect(again.stdout).toContain(`METAHUMAN_ROOT "${root}" is ready (owned by 1000:1000)`);
  });

  it("refuses to start the pod when an existing METAHUMAN_ROOT is not on a mounted volume, leaving it alone", () => {
    const { vol, mountinfo } = setup("not-mounted");
    const root = path.join(vol, "metahuman");
    fs.mkdirSync(root);
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain("is not on a mounted volume; left it as it is and refusing to start");
    // The command (MetaHuman OS behind the door) never ran.
    expect(r.stdout).not.toContain("1000 1000");
    expect(owner(root)).toBe("0:0");
  });

  it("does nothing when METAHUMAN_ROOT is unset, and still execs the command as 1000", () => {
    const { vol, mountinfo } = setup("mounted");
    const r = runEntrypoint({ MOUNTINFO_FILE: mountinfo });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["web-entrypoint: METAHUMAN_ROOT is not set; nothing to prepare", "1000 1000 [two words]"]);
    expect(fs.readdirSync(vol)).toEqual([]);
  });

  it("started as a non-root user, prepares nothing and runs the command as that user", () => {
    const { vol, mountinfo } = setup("mounted");
    const r = spawnSync("setpriv", ["--reuid=1000", "--regid=1000", "--init-groups", "sh", SCRIPT, ...PROBE], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: path.join(vol, "metahuman") },
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("running as uid 1000, not root");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1000 1000 [two words]");
    expect(fs.readdirSync(vol)).toEqual([]);
  });

  it("hands the secrets to the command on descriptor 3, never in its environment, and the rest of the environment as it was", () => {
    const key = "rpa_entrypointtestkey$`\\x";
    const show = ["sh", "-c", 'tr "\\0" "\\n" < /proc/self/environ; echo ---; cat <&3'];
    const r = runEntrypoint({ RUNPOD_API_KEY: key, SESSION_SECRET: TEST_SECRET, ALERT_WEBHOOK_URL: "https://ntfy.example/t0ken", LLM_MODEL: "m" }, show);
    expect(r.status, r.stderr).toBe(0);
    const [environ, fd3] = r.stdout.split("\n---\n");
    for (const secret of [key, TEST_SECRET, "t0ken"]) expect(environ).not.toContain(secret);
    expect(environ!.split("\n")).toEqual(expect.arrayContaining(["POD_SECRETS_FD=3", "LLM_MODEL=m"]));
    expect(fd3!.split("\n").filter(Boolean).sort()).toEqual([`ALERT_WEBHOOK_URL=https://ntfy.example/t0ken`, `RUNPOD_API_KEY=${key}`, `SESSION_SECRET=${TEST_SECRET}`]);
  });

  it("refuses to start when a secret holds a line break, naming it and not its value", () => {
    const r = runEntrypoint({ SESSION_SECRET: `${TEST_SECRET}\nRUNPOD_API_KEY=injected` });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain("SESSION_SECRET holds a line break");
    expect(r.stderr + r.stdout).not.toContain(TEST_SECRET);
    expect(r.stdout).not.toContain("[two words]");
  });

  it("runs the real server command as uid 1000 on a fresh volume, and the server can use the folder it made", async () => {
    const { vol, mountinfo } = setup("mounted");
    const root = path.join(vol, "metahuman");
    const [, ...args] = SERVER_COMMAND;
    // As the image does: ENTRYPOINT sh web-entrypoint.sh, CMD the server command, cwd the app.
    const proc = spawn("sh", [SCRIPT, process.execPath, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? "", MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root, LLM_PROVIDER: "mock", SESSION_SECRET: TEST_SECRET, HOST: "127.0.0.1", PORT: "0", NODE_ENV: "test" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    let out = "";
    proc.stdout!.on("data", (c) => (out += c));
    proc.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    const until = Date.now() + 20_000;
    while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(out)) {
      if (proc.exitCode !== null || Date.now() > until) throw new Error(`the server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // sh execs setpriv, which execs node: the same process, now not root.
    const status = fs.readFileSync(`/proc/${proc.pid}/status`, "utf8");
    expect(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status)?.slice(1)).toEqual(["1000", "1000", "1000", "1000"]);
    expect(/^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status)?.slice(1)).toEqual(["1000", "1000", "1000", "1000"]);
    // The session secret came on descriptor 3: not in the server's environment, where MetaHuman OS's user could read it.
    expect(fs.readFileSync(`/proc/${proc.pid}/environ`, "utf8")).not.toContain(TEST_SECRET);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect(owner(path.join(root, "users"))).toBe("1000:1000"); // made by the server itself (its accounts)
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("leaves the real server to refuse to start, with its message, when the volume is not mounted", async () => {
    const { vol, mountinfo } = setup("not-mounted");
    const root = path.join(vol, "metahuman");
    const [, ...args] = SERVER_COMMAND;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const proc = spawn("sh", [SCRIPT, process.execPath, ...args], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? "", MOUNTINFO_FILE: mountinfo, METAHUMAN_ROOT: root, LLM_PROVIDER: "mock", SESSION_SECRET: TEST_SECRET, PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = proc;
      let out = "";
      // Should it start after all, stop it at once so that the test fails quickly.
      const collect = (c: Buffer) => {
        out += c;
        if (/listening on /.test(out)) proc.kill("SIGKILL");
      };
      proc.stdout!.on("data", collect);
      proc.stderr!.on("data", collect);
      proc.on("exit", (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`METAHUMAN_ROOT "${root}" does not exist: is the network volume mounted?`);
    expect(fs.existsSync(root)).toBe(false);
  });
});

describe("docker/web-entrypoint.sh's list of secrets", () => {
  it("is src/app/env.ts's SECRET_VARIABLES", () => {
    const line = /^SECRET_VARIABLES="([^"]*)"$/m.exec(fs.readFileSync(SCRIPT, "utf8"));
    expect(line?.[1]!.split(" ")).toEqual([...SECRET_VARIABLES]);
  });
});
