// The real server command (the Dockerfile's CMD) as a child process, and the image's contents.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { POD_COMMAND, POD_ENTRY, SERVER_ENTRY } from "../../src/app/server/command";
import { TEST_SECRET, tempRoot } from "./helpers";
import { REPO, startServer as startChild, waitFor, type ServerChild } from "./server-child";

const DOCKERFILE = path.join(REPO, "docker", "web.Dockerfile");

let child: ServerChild["proc"] | undefined;
const roots: string[] = [];
afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function startServer(env: Record<string, string>): ServerChild {
  const server = startChild(env);
  child = server.proc;
  return server;
}

describe("server process", () => {
  it("starts with SERVER_COMMAND (the server alone), answers /api/health, and exits 0 on SIGTERM", async () => {
    const root = tempRoot();
    roots.push(root);
    const server = startServer({ LLM_PROVIDER: "mock", METAHUMAN_ROOT: root, SESSION_SECRET: TEST_SECRET, HOST: "127.0.0.1", PORT: "0", NODE_ENV: "test" });
    await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(server.output()), "the listening line");
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())![1];
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    const page = await fetch(`${url}/`);
    expect(await page.text()).toContain("<title>MetaHuman</title>");
    server.proc.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("refuses to start when a variable is missing or bad, naming it and printing no secret", async () => {
    const root = tempRoot();
    roots.push(root);
    const secretKey = "rpa_NEVER_PRINT_THIS_KEY";
    const server = startServer({ LLM_PROVIDER: "runpod_serverless", RUNPOD_API_KEY: secretKey, METAHUMAN_ROOT: root, SESSION_SECRET: "short-secret", PORT: "0" });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain("refuses to start");
    expect(server.output()).toContain("RUNPOD_ENDPOINT_ID is required when LLM_PROVIDER=runpod_serverless");
    expect(server.output()).toContain("SESSION_SECRET must be at least 32 characters long");
    expect(server.output()).not.toContain(secretKey);
    expect(server.output()).not.toContain("short-secret");
  });

  it("refuses to start when METAHUMAN_ROOT is not mounted", async () => {
    const server = startServer({ LLM_PROVIDER: "mock", METAHUMAN_ROOT: "/nonexistent/metahuman-volume", SESSION_SECRET: TEST_SECRET, PORT: "0" });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/METAHUMAN_ROOT "\/nonexistent\/metahuman-volume" does not exist: is the network volume mounted\?/);
  });
});

/** npm packages (not node: built-ins) that the files import or resolve by name. */
function packagesImported(files: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const source = fs.readFileSync(path.join(REPO, file), "utf8");
    const specifiers = /(?:^\s*(?:import|export)\b[^;]*?\bfrom\s*|^\s*import\s*|\brequire(?:\.resolve)?\(\s*|\bimport\(\s*)"([^".][^"]*)"/gm;
    for (const m of source.matchAll(specifiers)) {
      const spec = m[1]!;
      if (spec.startsWith("node:")) continue;
      names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  return names;
}

/** Relative imports reachable from a file (what the image must contain). */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = fs.readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const base = path.resolve(path.dirname(file), m[1]!);
      const resolved = [`${base}.ts`, path.join(base, "index.ts"), base].find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
      if (!resolved) throw new Error(`${file} imports ${m[1]} which does not resolve`);
      visit(resolved);
    }
  };
  visit(entry);
  return new Set([...seen].map((f) => path.relative(REPO, f)));
}

describe("docker/web.Dockerfile", () => {
  const dockerfile = fs.readFileSync(DOCKERFILE, "utf8");
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  // What the image runs (the pod) and what it can also run (the server alone): both must work from its files.
  const closure = new Set([...importClosure(path.join(REPO, POD_ENTRY)), ...importClosure(path.join(REPO, SERVER_ENTRY))]);

  it("runs the pod's command (POD_COMMAND), through the entrypoint that test/app/web-entrypoint.test.ts runs", () => {
    const cmd = /^CMD (\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual([...POD_COMMAND]);
    const entrypoint = [...dockerfile.matchAll(/^ENTRYPOINT (\[.*\])\s*$/gm)];
    expect(entrypoint).toHaveLength(1);
    expect(JSON.parse(entrypoint[0]![1]!)).toEqual(["/bin/sh", "/usr/local/bin/web-entrypoint.sh"]);
    expect(dockerfile).toMatch(/^COPY docker\/web-entrypoint\.sh \/usr\/local\/bin\/web-entrypoint\.sh$/m);
  });

  it("is multi-stage over BASE (node:22-slim unless a build names another), with a HEALTHCHECK on /api/health", () => {
    expect(dockerfile).toMatch(/^ARG BASE=node:22-slim$/m);
    // MetaHuman OS's build, our npm packages and the image itself: each over the same Node 22 base.
    expect(dockerfile.match(/^FROM \$\{BASE\}/gm)?.length).toBe(3);
    expect(dockerfile.match(/^FROM (?!\$\{BASE\}|scratch )/gm)).toBeNull();
    expect(finalStage).toMatch(/^FROM \$\{BASE\}\s*$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/api\/health/m);
  });

  it("builds MetaHuman OS at the pin with the scripts that npm run local uses, from GitHub or a given source", () => {
    const stage = /^FROM \$\{BASE\} AS metahuman-os$([\s\S]*?)^FROM /m.exec(dockerfile)?.[1] ?? "";
    expect(stage).toMatch(/^COPY scripts\/metahuman-os\/ scripts\/metahuman-os\/$/m);
    expect(stage).toContain("bash scripts/metahuman-os/source.sh /opt/metahuman-os");
    expect(stage).toContain("bash scripts/metahuman-os/build.sh /opt/metahuman-os");
    // The source a build is given (--build-context metahuman-os-source=DIR) is mounted, never copied into a layer,
    // and goes through source.sh, which checks its commit.
    expect(stage).toMatch(/^ARG METAHUMAN_OS_SOURCE=$/m);
    expect(stage).toMatch(/--mount=type=bind,from=metahuman-os-source,target=\/metahuman-os-source/);
    expect(dockerfile).toMatch(/^FROM scratch AS metahuman-os-source$/m);
    // Into the image root-owned and not writable by the server; found by the pod through METAHUMAN_OS_DIR.
    expect(stage).toContain("chown -R root:root /opt/metahuman-os");
    expect(stage).toContain("chmod -R go-w /opt/metahuman-os");
    expect(finalStage).toMatch(/^COPY --from=metahuman-os \/opt\/metahuman-os \/opt\/metahuman-os$/m);
    expect(finalStage).toMatch(/^\s*METAHUMAN_OS_DIR=\/opt\/metahuman-os\s*$/m);
  });

  it("starts as root only for the entrypoint, which always runs the server as node (1000:1000)", () => {
    // The final stage's last USER is what the entrypoint starts as: root, so that it can
    // create METAHUMAN_ROOT on a fresh root-owned volume.
    const users = [...finalStage.matchAll(/^USER (\S+)\s*$/gm)].map((m) => m[1]);
    expect(users.at(-1) ?? "root").toBe("root");
    // The build checks that setpriv exists and that `node` is 1000:1000.
    expect(finalStage).toMatch(/command -v setpriv/);
    expect(finalStage).toContain('[ "$(id -u node):$(id -g node)" = "1000:1000" ]');
    // Every way out of the script as root goes through setpriv to 1000:1000: the only
    // other exec is the branch taken when it was not started as root.
    const script = fs.readFileSync(path.join(REPO, "docker", "web-entrypoint.sh"), "utf8");
    const execs = script.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("exec "));
    expect(execs).toEqual(['exec "$@"', 'exec setpriv --reuid="$APP_UID" --regid="$APP_GID" --init-groups -- "$@" 3<<SECRETS']);
    expect(script).toMatch(/^APP_UID=1000$/m);
    expect(script).toMatch(/^APP_GID=1000$/m);
    expect(script).toMatch(/if \[ "\$\(id -u\)" != "0" \]; then[\s\S]*?exec "\$@"\n\s*fi/);
  });

  it("copies every file the pod imports and nothing of src/infra", () => {
    const copied = [...finalStage.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    const covered = (file: string) => copied.some((c) => (c.endsWith("/") ? file.startsWith(c) : file === c));
    expect(closure.has("src/app/metahuman-os/process.ts")).toBe(true);
    expect(closure.has("src/runpod/serverless.ts")).toBe(true);
    for (const file of closure) {
      expect(file.startsWith("src/infra"), `${file} is part of src/infra`).toBe(false);
      expect(covered(file), `${file} is imported by the server but not copied into the image`).toBe(true);
    }
    expect(copied.some((c) => c.startsWith("src/infra") || c === "src/" || c === "." || c === "src")).toBe(false);
  });

  it("installs every npm package the pod imports or resolves (the page's SSE parser and the door's proxy included)", () => {
    const keep = /const keep = (\[[^\]]*\]);/.exec(dockerfile);
    expect(keep).not.toBeNull();
    const installed = new Set(JSON.parse(keep![1]!) as string[]);
    const imported = packagesImported(closure);
    expect(imported.has("eventsource-parser")).toBe(true);
    expect(imported.has("@fastify/http-proxy")).toBe(true);
    expect(imported.has("fastify")).toBe(true);
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    for (const name of imported) {
      // A package installed as a dependency of a kept one (e.g. fastify's) still has to be kept itself.
      expect(installed.has(name), `${name} is imported by the server but not installed in the image`).toBe(true);
      expect(lock.packages[`node_modules/${name}`], `${name} is not in package-lock.json`).toBeDefined();
    }
  });
});
