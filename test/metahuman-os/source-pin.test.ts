// The one pin of MetaHuman OS (scripts/metahuman-os/pin.env) and the script that fetches its source
// (scripts/metahuman-os/source.sh): a source at another commit, one whose commit cannot be read, one with changes and
// a missing one are refused by name; a source at the pin lands with its commit recorded. Sources at "the pin" are
// made here from throw-away git repositories, with a copy of source.sh beside a pin.env that names their commit
// (source.sh reads pin.env beside itself); the real pinned source is used when METAHUMAN_OS_SOURCE gives it.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../prerequisites";

const SCRIPTS = path.join(REPO_ROOT, "scripts", "metahuman-os");
const PIN = /^METAHUMAN_OS_COMMIT=([0-9a-f]{40})$/m.exec(fs.readFileSync(path.join(SCRIPTS, "pin.env"), "utf8"))![1]!;

const GIT_ENV = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.org", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.org", GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };

function git(cwd: string, ...args: string[]): string {
  const run = spawnSync("git", args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
  return run.stdout.trim();
}

/** Runs source.sh (the repository's, or a copy) into DEST with METAHUMAN_OS_SOURCE; returns its exit code and output. */
function source(script: string, dest: string, from: string | undefined) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...GIT_ENV };
  delete env.METAHUMAN_OS_SOURCE;
  if (from !== undefined) env.METAHUMAN_OS_SOURCE = from;
  const run = spawnSync("bash", [script, dest], { env, encoding: "utf8", timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

/** A git repository shaped like MetaHuman OS's root (package.json, apps/site), with one commit. */
function fakeMetahumanRepo(dir: string, marker: string): string {
  fs.mkdirSync(path.join(dir, "apps", "site"), { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "metahuman-os", marker }));
  fs.writeFileSync(path.join(dir, "apps", "site", "astro.config.mjs"), `export default {}; // ${marker}\n`);
  git(dir, "init", "-q");
  git(dir, "add", ".");
  git(dir, "commit", "-qm", marker);
  return git(dir, "rev-parse", "HEAD");
}

function archiveOf(repo: string, file: string): string {
  const run = spawnSync("bash", ["-c", `git archive --prefix=metahuman-os/ HEAD | gzip > ${JSON.stringify(file)}`], { cwd: repo, env: { ...process.env, ...GIT_ENV } });
  if (run.status !== 0) throw new Error(`git archive: ${run.stderr}`);
  return file;
}

describe("scripts/metahuman-os/source.sh", () => {
  let tmp: string;
  let other: string;
  let otherCommit: string;
  /** A copy of source.sh whose pin.env names `pinned`'s commit. */
  let copy: string;
  let pinned: string;
  let pinnedCommit: string;
  const dest = (name: string) => path.join(tmp, "out", name);

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mh-source-"));
    fs.mkdirSync(path.join(tmp, "out"));
    other = path.join(tmp, "other");
    otherCommit = fakeMetahumanRepo(other, "another commit");
    pinned = path.join(tmp, "pinned");
    pinnedCommit = fakeMetahumanRepo(pinned, "the temp pin");
    const scripts = path.join(tmp, "scripts");
    fs.mkdirSync(scripts);
    copy = path.join(scripts, "source.sh");
    fs.copyFileSync(path.join(SCRIPTS, "source.sh"), copy);
    fs.writeFileSync(path.join(scripts, "pin.env"), `METAHUMAN_OS_REPO=https://example.invalid/metahuman-os\nMETAHUMAN_OS_COMMIT=${pinnedCommit}\n`);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("refuses an archive of another commit, naming the archive, its commit and the pin", () => {
    const archive = archiveOf(other, path.join(tmp, "other.tar.gz"));
    const run = source(path.join(SCRIPTS, "source.sh"), dest("archive"), archive);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${archive} holds commit ${otherCommit}`);
    expect(run.out).toContain(PIN);
    expect(fs.existsSync(dest("archive"))).toBe(false);
    expect(fs.existsSync(`${dest("archive")}.partial`)).toBe(false);
  });

  it("refuses an archive that carries no commit id", () => {
    const plain = path.join(tmp, "plain.tar.gz");
    const run0 = spawnSync("bash", ["-c", `tar -czf ${JSON.stringify(plain)} -C ${JSON.stringify(other)} package.json apps`]);
    expect(run0.status).toBe(0);
    const run = source(path.join(SCRIPTS, "source.sh"), dest("plain-archive"), plain);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${plain} carries no commit id`);
    expect(fs.existsSync(dest("plain-archive"))).toBe(false);
  });

  it("refuses a plain folder that is not a checkout", () => {
    const folder = path.join(tmp, "plain-folder");
    fs.cpSync(other, folder, { recursive: true, filter: (f) => !f.includes(`${path.sep}.git`) });
    const run = source(path.join(SCRIPTS, "source.sh"), dest("folder"), folder);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${folder} is a folder but not a git checkout`);
    expect(fs.existsSync(dest("folder"))).toBe(false);
  });

  it("refuses a checkout at another commit, naming both commits", () => {
    const run = source(path.join(SCRIPTS, "source.sh"), dest("checkout"), other);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${other} is at commit ${otherCommit}; the pin (scripts/metahuman-os/pin.env) is ${PIN}`);
    expect(fs.existsSync(dest("checkout"))).toBe(false);
  });

  it("refuses a checkout at the pin with uncommitted changes (changed or new files)", () => {
    const dirty = path.join(tmp, "dirty");
    fs.cpSync(pinned, dirty, { recursive: true });
    expect(git(dirty, "rev-parse", "HEAD")).toBe(pinnedCommit);
    fs.appendFileSync(path.join(dirty, "package.json"), "\n");
    let run = source(copy, dest("dirty"), dirty);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${dirty} has uncommitted changes`);
    git(dirty, "checkout", "--", "package.json");
    fs.writeFileSync(path.join(dirty, "apps", "site", "patch.js"), "// a patch\n");
    run = source(copy, dest("dirty"), dirty);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain("has uncommitted changes");
    expect(fs.existsSync(dest("dirty"))).toBe(false);
  });

  it("refuses a source that does not exist, naming it", () => {
    const missing = path.join(tmp, "no-such-source.tar.gz");
    const run = source(path.join(SCRIPTS, "source.sh"), dest("missing"), missing);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`METAHUMAN_OS_SOURCE=${missing} does not exist`);
    expect(fs.existsSync(dest("missing"))).toBe(false);
  });

  it("refuses a destination that already exists, and leaves it as it was", () => {
    const taken = dest("taken");
    fs.mkdirSync(taken);
    fs.writeFileSync(path.join(taken, "keep"), "mine");
    const run = source(copy, taken, pinned);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain(`${taken} already exists`);
    expect(fs.readdirSync(taken)).toEqual(["keep"]);
  });

  it("accepts a checkout and an archive at the pin: the files land, with .metahuman-os-commit", () => {
    const fromCheckout = source(copy, dest("from-checkout"), pinned);
    expect(fromCheckout.out).toContain(`using the checkout ${pinned} at ${pinnedCommit}`);
    expect(fromCheckout.code).toBe(0);
    const fromArchive = source(copy, dest("from-archive"), archiveOf(pinned, path.join(tmp, "pinned.tar.gz")));
    expect(fromArchive.code).toBe(0);
    for (const name of ["from-checkout", "from-archive"]) {
      expect(fs.readFileSync(path.join(dest(name), ".metahuman-os-commit"), "utf8"), name).toBe(`${pinnedCommit}\n`);
      // The archive's prefix folder is lifted: the source is at the top, without .git.
      expect(JSON.parse(fs.readFileSync(path.join(dest(name), "package.json"), "utf8")).marker, name).toBe("the temp pin");
      expect(fs.existsSync(path.join(dest(name), "apps", "site", "astro.config.mjs")), name).toBe(true);
      expect(fs.existsSync(path.join(dest(name), ".git")), name).toBe(false);
    }
  });

  it("accepts the real source at the pin when METAHUMAN_OS_SOURCE gives it (else the temp pin's archive, .tar)", () => {
    const given = process.env.METAHUMAN_OS_SOURCE;
    const script = given ? path.join(SCRIPTS, "source.sh") : copy;
    const from = given ?? path.join(tmp, "pinned.tar");
    if (!given) expect(spawnSync("bash", ["-c", `git archive --prefix=x/ HEAD > ${JSON.stringify(from)}`], { cwd: pinned }).status).toBe(0);
    const run = source(script, dest("real"), from);
    expect(run.code, run.out).toBe(0);
    expect(fs.readFileSync(path.join(dest("real"), ".metahuman-os-commit"), "utf8")).toBe(`${given ? PIN : pinnedCommit}\n`);
    expect(fs.existsSync(path.join(dest("real"), "apps", "site"))).toBe(true);
  }, 120_000);
});

describe("the pin", () => {
  it("appears in the repository only in scripts/metahuman-os/pin.env, in full or abbreviated", () => {
    for (const form of [PIN, PIN.slice(0, 12), PIN.slice(0, 8)]) {
      const run = spawnSync("git", ["grep", "-l", "-F", "-i", form], { cwd: REPO_ROOT, encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim().split("\n"), form).toEqual(["scripts/metahuman-os/pin.env"]);
    }
  });
});
