// The web image, built for real (scripts/build-web-image.sh: buildah over a base made from Debian's packages and
// Node 22 from the npm registry) and run with podman against the emulator, as RunPod starts the pod: its
// entrypoint as root, a temp folder mounted as the network volume at /runpod-volume, the pod's env. Checks the
// volume checks and seeding, the start, /api/health, the first page, and that the RunPod key stays out of
// MetaHuman OS's environment and off the volume. Needs root (buildah and podman with chroot isolation); the build
// is cached by the hash of its inputs, so only the first run (or a change to what the image holds) builds.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POD_COMMAND } from "../../src/app/server/command";
import { TEST_SECRET } from "../app/helpers";
import { REPO, runpodServerEnv, waitFor } from "../app/server-child";
import { API_KEY, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

const IS_ROOT = process.getuid?.() === 0;
const STATE = path.join(REPO, ".tools", "web-image");
const ROOT_IN_POD = "/runpod-volume/metahuman";
const MODEL = "echo-model";

let image = "";
let podmanArgs: string[] = [];
let runArgs: string[] = [];
let emu: RunningEmulator;
const temps: string[] = [];
const containers: string[] = [];

function podman(args: string[], timeout = 120_000): { status: number | null; out: string } {
  const r = spawnSync("podman", [...podmanArgs, ...args], { encoding: "utf8", timeout });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A temp folder standing in for the network volume: root-owned and open to others, as RunPod mounts it. */
function volume(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mh-image-vol-"));
  fs.chmodSync(dir, 0o755);
  temps.push(dir);
  return dir;
}

interface Pod {
  name: string;
  url: string;
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  startedAt: number;
}

/** `podman run` of the image as the pod runs: its own entrypoint and CMD, host network on loopback ports. */
async function runPod(vol: string | undefined, extra: Record<string, string> = {}): Promise<Pod> {
  const [port, mhPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
  const env = runpodServerEnv(emu, ROOT_IN_POD, {
    HOST: "127.0.0.1",
    PORT: String(port),
    METAHUMAN_OS_PORT: String(mhPort),
    GATEWAY_PORT: String(gatewayPort),
    LLM_MODEL: MODEL,
    NODE_ENV: "production",
    ...extra,
  });
  const envDir = fs.mkdtempSync(path.join(os.tmpdir(), "mh-image-env-"));
  temps.push(envDir);
  const envFile = path.join(envDir, "pod.env");
  fs.writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const name = `mh-web-test-${process.pid}-${containers.length}`;
  containers.push(name);
  const args = [...podmanArgs, "run", "--rm", "--name", name, "--network", "host", ...runArgs, "--env-file", envFile];
  if (vol) args.push("-v", `${vol}:/runpod-volume`);
  args.push(image);
  const startedAt = Date.now();
  const proc = spawn("podman", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (c) => (out += c));
  proc.stderr!.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { name, url: `http://127.0.0.1:${port}`, proc, output: () => out, exited, startedAt };
}

async function ok(url: string, init?: RequestInit): Promise<Response | undefined> {
  return fetch(url, { redirect: "manual", signal: AbortSignal.timeout(5_000), ...init }).catch(() => undefined);
}

/** The environment of each process in the container whose command line contains `needle`. */
function environsOf(name: string, needle: string): { pid: string; uid: string; environ: string }[] {
  const script = `for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/local/bin/node ] || continue
    if tr '\\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$1"; then
      printf '%s %s ' "\${p#/proc/}" "$(awk '/^Uid:/ {print $2}' "$p/status")"; tr '\\0' '\\n' < "$p/environ" | base64 -w0; echo
    fi
  done`;
  // As uid 1000, the processes' own user: root in the container lacks CAP_SYS_PTRACE, which reading another
  // user's /proc/PID/environ and exe takes.
  const r = podman(["exec", "--user", "1000:1000", name, "sh", "-c", script, "sh", needle]);
  expect(r.status, r.out).toBe(0);
  return r.out.trim().split("\n").filter(Boolean).map((line) => {
    const [pid, uid, b64] = line.split(" ");
    return { pid: pid!, uid: uid!, environ: Buffer.from(b64 ?? "", "base64").toString("utf8") };
  });
}

describe.skipIf(!IS_ROOT)(`the web image under podman${IS_ROOT ? "" : " (skipped: buildah and podman need root here)"}`, () => {
  beforeAll(async () => {
    // Not spawnSync: a blocked worker misses vitest's own calls while a build runs for minutes.
    const build = spawn("bash", [path.join(REPO, "scripts", "build-web-image.sh")], { cwd: REPO, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    build.stdout!.on("data", (c) => (log += c));
    build.stderr!.on("data", (c) => (log += c));
    const status = await new Promise<number | null>((resolve) => build.on("exit", (code) => resolve(code)));
    if (status !== 0) throw new Error(`scripts/build-web-image.sh failed:\n${log.slice(-4000)}`);
    process.stdout.write(log.split("\n").filter((l) => l.startsWith("[web-image]")).join("\n") + "\n");
    image = fs.readFileSync(path.join(STATE, "image"), "utf8").trim();
    podmanArgs = fs.readFileSync(path.join(STATE, "podman-args"), "utf8").split("\n").filter(Boolean);
    runArgs = fs.readFileSync(path.join(STATE, "podman-run-args"), "utf8").split("\n").filter(Boolean);
    emu = await startEmulator();
  }, 46 * 60_000);

  afterAll(async () => {
    for (const name of containers) podman(["rm", "-f", "-t", "0", name]);
    await emu?.close();
    for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
  }, 120_000);

  it("holds MetaHuman OS read-only under /opt/metahuman-os, and runs POD_COMMAND through the entrypoint as root", () => {
    const inspect = podman(["image", "inspect", "--format", "{{json .Config}}", image]);
    expect(inspect.status, inspect.out).toBe(0);
    const config = JSON.parse(inspect.out) as { Cmd: string[]; Entrypoint: string[]; Env: string[]; User?: string; WorkingDir: string };
    expect(config.Cmd).toEqual([...POD_COMMAND]);
    expect(config.Entrypoint).toEqual(["/bin/sh", "/usr/local/bin/web-entrypoint.sh"]);
    expect(config.Env).toContain("METAHUMAN_OS_DIR=/opt/metahuman-os");
    expect(config.WorkingDir).toBe("/app");
    expect(config.User ?? "root").toMatch(/^(root|)$/);
    // Node 22 (MetaHuman OS needs >= 22.3 < 23); the built site; nothing in /opt/metahuman-os or /app that the
    // server's user may write.
    const probe = podman(["run", "--rm", ...runArgs, "--entrypoint", "sh", image, "-c", [
      "node --version",
      "cat /opt/metahuman-os/.metahuman-os-commit",
      "test -f /opt/metahuman-os/apps/site/dist/server/entry.mjs && echo built",
      "find /opt/metahuman-os /app \\( ! -user root -o -perm -o=w -o -perm -g=w \\) ! -type l | head -5 | sed 's/^/writable: /'",
      "setpriv --reuid=1000 --regid=1000 --init-groups sh -c 'touch /opt/metahuman-os/x 2>/dev/null && echo node-can-write || echo node-cannot-write'",
    ].join("; ")]);
    expect(probe.status, probe.out).toBe(0);
    const lines = probe.out.trim().split("\n");
    expect(lines[0]).toMatch(/^v22\.(?:[3-9]|\d\d)\.\d+$/);
    const pin = /^METAHUMAN_OS_COMMIT=(\S+)$/m.exec(fs.readFileSync(path.join(REPO, "scripts/metahuman-os/pin.env"), "utf8"))![1];
    expect(lines[1]).toBe(pin);
    expect(lines).toContain("built");
    expect(lines.filter((l) => l.startsWith("writable: "))).toEqual([]);
    expect(lines).toContain("node-cannot-write");
  }, 180_000);

  it("refuses to start MetaHuman OS when METAHUMAN_ROOT is not on a mounted volume, and creates nothing", async () => {
    const pod = await runPod(undefined);
    const code = await Promise.race([pod.exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 120_000))]);
    expect(code, pod.output()).toBe(1);
    expect(pod.output()).toContain('web-entrypoint: "/" is not a mounted volume; created nothing');
    expect(pod.output()).toContain(`METAHUMAN_ROOT "${ROOT_IN_POD}" does not exist: is the network volume mounted?`);
    expect(pod.output()).not.toContain("[metahuman-os]");
    expect(pod.output()).not.toContain(API_KEY);
  }, 150_000);

  it("starts on a fresh volume: creates and seeds METAHUMAN_ROOT, answers /api/health and the first page, keeps the key from MetaHuman OS", async () => {
    const vol = volume();
    const pod = await runPod(vol);
    try {
      // Container start (podman run) to the first page: the door's login page, and / sends a stranger there.
      let firstPageMs = 0;
      await waitFor(async () => {
        if (pod.proc.exitCode !== null) throw new Error(`the pod exited with ${pod.proc.exitCode}:\n${pod.output()}`);
        const login = await ok(`${pod.url}/door/login`);
        if (login?.status !== 200) return false;
        const root = await ok(`${pod.url}/`, { headers: { accept: "text/html" } });
        if (root?.status !== 302) return false;
        expect(root.headers.get("location")).toMatch(/^\/door\/login/);
        firstPageMs = Date.now() - pod.startedAt;
        return true;
      }, "the first page", 180_000);
      const health = await ok(`${pod.url}/api/health`);
      const body = await health!.json() as { status: string; components?: Record<string, { ok: boolean }> };
      expect(health!.status, JSON.stringify(body)).toBe(200);
      process.stdout.write(`web image: container start to first page ${firstPageMs} ms; /api/health ${JSON.stringify(body)}\n`);

      // The entrypoint made METAHUMAN_ROOT on the volume for uid 1000; the pod seeded MetaHuman OS's etc/ and brain/.
      const out = pod.output();
      expect(out).toContain(`web-entrypoint: created METAHUMAN_ROOT "${ROOT_IN_POD}" on the volume mounted at "/runpod-volume", owned by 1000:1000`);
      expect(out).toMatch(/seeded [1-9]\d* of MetaHuman OS's default files into \/runpod-volume\/metahuman/);
      const root = path.join(vol, "metahuman");
      expect(fs.statSync(root).uid).toBe(1000);
      expect(fs.statSync(path.join(root, "etc")).uid).toBe(1000);
      expect(fs.existsSync(path.join(root, "brain"))).toBe(true);
      const backend = JSON.parse(fs.readFileSync(path.join(root, "etc", "llm-backend.json"), "utf8")) as { activeBackend?: string };
      expect(backend.activeBackend).toBe("remote");

      // Every process runs as 1000, and no process's environment holds the RunPod key or the session secret: the
      // entrypoint hands them to the pod's process on descriptor 3 (so MetaHuman OS, the same user, cannot read them
      // in /proc/PID/environ). The key did arrive: /api/health above probed the endpoint with it.
      const pods = environsOf(pod.name, "src/app/server/pod.ts");
      const metahuman = environsOf(pod.name, "apps/site/dist/server/entry.mjs");
      expect(pods.length).toBeGreaterThan(0);
      expect(metahuman.length).toBe(1);
      for (const p of [...pods, ...metahuman]) expect(p.uid).toBe("1000");
      for (const p of pods) {
        expect(p.environ).not.toContain(API_KEY);
        expect(p.environ).not.toContain(TEST_SECRET);
        expect(p.environ).toContain("POD_SECRETS_FD=3");
      }
      expect(metahuman[0]!.environ).not.toContain(API_KEY);
      expect(metahuman[0]!.environ).not.toContain("RUNPOD_");
      expect(metahuman[0]!.environ).not.toContain(TEST_SECRET);
      expect(metahuman[0]!.environ).toContain(`METAHUMAN_ROOT=${ROOT_IN_POD}`);
      // Nor is the key in any file on the volume.
      const grep = spawnSync("grep", ["-rlF", API_KEY, vol], { encoding: "utf8" });
      expect(grep.stdout).toBe("");

      // The image's HEALTHCHECK command passes in the running container.
      const check = podman(["healthcheck", "run", pod.name]);
      expect(check.status, check.out).toBe(0);

      // podman stop sends SIGTERM: the pod stops MetaHuman OS and exits 0.
      const stop = podman(["stop", "-t", "20", pod.name], 60_000);
      expect(stop.status, stop.out).toBe(0);
      const code = await pod.exited;
      expect(code, pod.output()).toBe(0);
    } finally {
      if (pod.proc.exitCode === null) podman(["rm", "-f", "-t", "0", pod.name]);
    }
  }, 300_000);

  it("starts again over the same volume, leaving a person's changed files as they are", async () => {
    const vol = volume();
    const first = await runPod(vol);
    await waitFor(async () => (await ok(`${first.url}/door/login`))?.status === 200 || first.proc.exitCode !== null, "the first start", 180_000);
    expect(first.proc.exitCode, first.output()).toBeNull();
    podman(["stop", "-t", "20", first.name], 60_000);
    const firstCode = await first.exited;
    expect(firstCode, first.output()).toBe(0);

    const root = path.join(vol, "metahuman");
    const brainFile = (function find(dir: string): string | undefined {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isFile()) return p;
        if (entry.isDirectory()) {
          const found = find(p);
          if (found) return found;
        }
      }
      return undefined;
    })(path.join(root, "brain"));
    expect(brainFile).toBeDefined();
    fs.writeFileSync(brainFile!, "a person's own words\n");

    const second = await runPod(vol);
    try {
      await waitFor(async () => (await ok(`${second.url}/api/health`))?.status === 200 || second.proc.exitCode !== null, "the second start", 180_000);
      expect(second.proc.exitCode, second.output()).toBeNull();
      expect(second.output()).toContain(`web-entrypoint: METAHUMAN_ROOT "${ROOT_IN_POD}" is ready (owned by 1000:1000)`);
      expect(second.output()).toMatch(/seeded 0 of MetaHuman OS's default files/);
      expect(fs.readFileSync(brainFile!, "utf8")).toBe("a person's own words\n");
    } finally {
      podman(["stop", "-t", "20", second.name], 60_000);
      await second.exited;
    }
  }, 420_000);
});
