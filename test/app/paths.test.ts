import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { MetaHumanPaths, UsernameError, VolumeError, appendAudit, appendEpisodic, episodicFile, metahumanOsLayout, profilePaths, readJson, validateUsername, writeJsonAtomic } from "../../src/app/paths";
import { tempRoot } from "./helpers";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
const newRoot = () => {
  const r = tempRoot();
  roots.push(r);
  return r;
};

describe("METAHUMAN_ROOT", () => {
  it("names MetaHuman OS's layout at the pin and creates none of it: only users/ (the server's accounts)", () => {
    const root = newRoot();
    fs.mkdirSync(path.join(root, "profiles", "ada", "memory"), { recursive: true });
    fs.writeFileSync(path.join(root, "profiles", "ada", "memory", "note.json"), "{}");
    const paths = MetaHumanPaths.open(root);
    // Nothing of the plan's older tree at the root (persona/core.json, memory/episodic...): MetaHuman OS makes its own.
    expect(fs.readdirSync(root).sort()).toEqual(["profiles", "users"]);
    expect(fs.readdirSync(path.join(root, "profiles", "ada", "memory"))).toEqual(["note.json"]);
    expect(paths.layout).toEqual({
      root,
      etc: path.join(root, "etc"),
      brain: path.join(root, "brain"),
      profiles: path.join(root, "profiles"),
      usersFile: path.join(root, "persona", "users.json"),
      logs: path.join(root, "logs"),
      run: path.join(root, "logs", "run"),
      sessionsFile: path.join(root, "logs", "run", "sessions.json"),
    });
    expect(metahumanOsLayout(root)).toEqual(paths.layout);
    const ada = paths.profile("ada");
    expect(ada).toEqual(profilePaths(root, "ada"));
    expect(ada.base).toBe(path.join(root, "profiles", "ada"));
    expect(ada.persona.core).toBe(path.join(root, "profiles", "ada", "persona", "core.json"));
    expect(ada.memory.episodic).toBe(path.join(root, "profiles", "ada", "memory", "episodic"));
    expect(ada.etc.models).toBe(path.join(root, "profiles", "ada", "etc", "models.json"));
    expect(ada.state).toBe(path.join(root, "profiles", "ada", "state"));
    expect(ada.logs).toBe(path.join(root, "profiles", "ada", "logs"));
    expect(fs.existsSync(ada.persona.dir)).toBe(false);
  });

  it("keeps every profile one folder below profiles/", () => {
    const root = newRoot();
    for (const name of ["..", "../users", "ada/../../etc", "/etc", ".", "", "a\\b"]) {
      expect(() => profilePaths(root, name)).toThrow(UsernameError);
      expect(() => profilePaths(root, name)).toThrow(/is not allowed: use 1 to 32 characters/);
    }
  });

  it("opens a root MetaHuman OS already filled and changes none of its files", () => {
    const root = newRoot();
    const files: Record<string, string> = { "etc/models.json": "{}", "persona/users.json": '{"users":[]}', "profiles/ada/persona/core.json": '{"name":"Ada"}' };
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    MetaHumanPaths.open(root);
    for (const [rel, text] of Object.entries(files)) expect(fs.readFileSync(path.join(root, rel), "utf8")).toBe(text);
    expect(fs.readdirSync(root).sort()).toEqual(["etc", "persona", "profiles", "users"]);
  });

  it("fails hard when users/ is a file, naming it", () => {
    const root = newRoot();
    fs.writeFileSync(path.join(root, "users"), "x");
    expect(() => MetaHumanPaths.open(root)).toThrow(VolumeError);
    expect(() => MetaHumanPaths.open(root)).toThrow(new RegExp(`${path.join(root, "users")} is not a folder`));
    expect(fs.readFileSync(path.join(root, "users"), "utf8")).toBe("x");
  });

  it("fails hard when the root is missing, never falling back", () => {
    const missing = path.join(os.tmpdir(), "mh-does-not-exist-" + process.pid);
    expect(() => MetaHumanPaths.open(missing)).toThrow(VolumeError);
    expect(() => MetaHumanPaths.open(missing)).toThrow(/does not exist: is the network volume mounted\?/);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it("fails hard when the root is a file or relative", () => {
    const file = path.join(newRoot(), "a-file");
    fs.writeFileSync(file, "x");
    expect(() => MetaHumanPaths.open(file)).toThrow(/is not a directory/);
    expect(() => MetaHumanPaths.open("relative/root")).toThrow(/must be an absolute path/);
  });

  it("fails hard when the root is not writable", () => {
    // As root, mode bits do not stop writes; /proc is a directory nobody can create files in.
    let unwritable = "/proc";
    if (process.getuid?.() !== 0) {
      unwritable = newRoot();
      fs.chmodSync(unwritable, 0o500);
    }
    try {
      expect(() => MetaHumanPaths.open(unwritable)).toThrow(/is not writable \(E[A-Z]+\)/);
    } finally {
      if (unwritable !== "/proc") fs.chmodSync(unwritable, 0o700);
    }
  });
});

describe("usernames", () => {
  it.each(["../etc", "..", ".", "a/b", "a\\b", "", " ada", "ada\u0000", "x".repeat(33), ".hidden", "-dash", "ädа"])("rejects %j", (name) => {
    expect(() => validateUsername(name)).toThrow(UsernameError);
    expect(() => validateUsername(name)).toThrow(/is not allowed: use 1 to 32 characters/);
  });

  it("rejects non-strings and keeps long names out of the message", () => {
    expect(() => validateUsername(42)).toThrow(/username number is not allowed/);
    const err = (() => {
      try {
        validateUsername("y".repeat(5000));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err!.message.length).toBeLessThan(200);
  });

  it("keeps every user's tree inside users/", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    expect(() => paths.user("../../etc")).toThrow(UsernameError);
    const tree = await paths.ensureUser("ada_Lovelace-1");
    expect(tree.base).toBe(path.join(root, "users", "ada_Lovelace-1"));
    expect(fs.readdirSync(root).sort()).toEqual(["users"]);
    expect(fs.statSync(path.join(tree.base, "memory", "episodic")).isDirectory()).toBe(true);
    expect(tree.account).toBe(path.join(tree.base, "account.json"));
  });
});

describe("atomic JSON and append-only JSONL", () => {
  it("writes JSON atomically and leaves no temp files", async () => {
    const root = newRoot();
    const file = path.join(root, "persona", "core.json");
    await writeJsonAtomic(file, { name: "Ada" });
    expect(await readJson(file)).toEqual({ name: "Ada" });
    expect(await readJson(path.join(root, "nope.json"))).toBeUndefined();
    expect(fs.readdirSync(path.dirname(file))).toEqual(["core.json"]);
  });

  it("concurrent writers in several processes never leave torn JSON", async () => {
    const root = newRoot();
    const file = path.join(root, "etc", "models.json");
    const big = (n: number) => ({ writer: n, filler: "z".repeat(200_000 + n) });
    await writeJsonAtomic(file, big(0));
    // A reader polls while 4 processes each write 10 times: every read must parse.
    const script = `
      const { writeJsonAtomic } = require(${JSON.stringify(path.resolve(__dirname, "../../src/app/paths.ts"))});
      (async () => { for (let i = 0; i < 10; i++) await writeJsonAtomic(process.argv[1], { writer: Number(process.argv[2]), i, filler: "z".repeat(200000 + i) }); })();
    `;
    const run = promisify(execFile);
    let reads = 0;
    let torn = 0;
    let done = false;
    const reader = (async () => {
      while (!done) {
        try {
          JSON.parse(fs.readFileSync(file, "utf8"));
        } catch {
          torn++;
        }
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all([1, 2, 3, 4].map((n) => run(process.execPath, ["--import", "tsx", "-e", script, file, String(n)], { cwd: path.resolve(__dirname, "../..") })));
    done = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(torn).toBe(0);
    expect((await readJson(file)) as { i: number }).toMatchObject({ i: 9 });
    expect(fs.readdirSync(path.dirname(file))).toEqual(["models.json"]);
  });

  it("appends episodic memory under memory/episodic/YYYY by day, and audit lines by day", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    const tree = await paths.ensureUser("ada");
    const at = "2026-03-04T05:06:07.000Z";
    const file = await appendEpisodic(tree, { timestamp: at, type: "conversation", message: "hi" });
    expect(file).toBe(path.join(root, "users", "ada", "memory", "episodic", "2026", "2026-03-04.jsonl"));
    expect(file).toBe(episodicFile(tree, new Date(at)));
    await appendEpisodic(tree, { timestamp: "2026-03-04T23:00:00.000Z", type: "conversation", message: "again" });
    expect(fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).message)).toEqual(["hi", "again"]);
    const audit = await appendAudit(paths.audit, { timestamp: at, event: "login" });
    expect(audit).toBe(path.join(root, "logs", "audit", "2026-03-04.jsonl"));
  });

  it("concurrent appends never interleave inside a line", async () => {
    const root = newRoot();
    const paths = MetaHumanPaths.open(root);
    const at = "2026-01-01T00:00:00.000Z";
    await Promise.all(Array.from({ length: 200 }, (_, i) => appendAudit(paths.audit, { timestamp: at, i, pad: "p".repeat(3000) })));
    const lines = fs.readFileSync(path.join(root, "logs", "audit", "2026-01-01.jsonl"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(200);
    expect(new Set(lines.map((l) => JSON.parse(l).i)).size).toBe(200);
  });
});
