// The MetaHuman OS tree on the network volume (its layout at the pin), and what our own server keeps beside it.
// Unlike MetaHuman OS, a missing or read-only METAHUMAN_ROOT is fatal: falling back to
// another folder would write a person's memory to a pod's ephemeral disk.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { writeFileAtomic } from "../common/atomic-file";

export class VolumeError extends Error {
  /** The errno code behind it (EROFS, ENOSPC, ENOENT...), or EVOLUME when the root changed. */
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = "VolumeError";
  }
}

export class UsernameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsernameError";
  }
}

export const USERNAME_RULE = "1 to 32 characters: letters, digits, '_' or '-', starting with a letter or digit";
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Returns the username unchanged, or throws: no separators, no dots, bounded length. */
export function validateUsername(name: unknown): string {
  if (typeof name !== "string" || !USERNAME_PATTERN.test(name)) {
    const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 40)) + (name.length > 40 ? "…" : "") : typeof name;
    throw new UsernameError(`username ${shown} is not allowed: use ${USERNAME_RULE}`);
  }
  return name;
}

/**
 * MetaHuman OS's own layout under METAHUMAN_ROOT at the pinned commit (packages/core/src/path-builder.ts): code-side
 * config and data at the root, each person's tree under profiles/<user>/. MetaHuman OS creates these itself; the pod
 * seeds etc/ and brain/ from the image (src/app/metahuman-os/seed.ts). Named here so nothing else spells them out.
 */
export interface MetahumanOsLayout {
  root: string;
  /** Shared config: models.json, llm-backend.json, agents.json, queue.json... (copied into a profile's etc/ when a user registers). */
  etc: string;
  /** Agents, skills and policies. */
  brain: string;
  /** One folder per user: profiles/<user>/. */
  profiles: string;
  /** MetaHuman OS's accounts: persona/users.json (password hashes, roles). */
  usersFile: string;
  /** Shared logs: logs/run/ (its sessions, agent runs). */
  logs: string;
  run: string;
  sessionsFile: string;
}

export function metahumanOsLayout(root: string): MetahumanOsLayout {
  return {
    root,
    etc: path.join(root, "etc"),
    brain: path.join(root, "brain"),
    profiles: path.join(root, "profiles"),
    usersFile: path.join(root, "persona", "users.json"),
    logs: path.join(root, "logs"),
    run: path.join(root, "logs", "run"),
    sessionsFile: path.join(root, "logs", "run", "sessions.json"),
  };
}

/** A person's tree in MetaHuman OS: profiles/<user>/ and the folders path-builder.ts gives it. */
export interface ProfilePaths {
  username: string;
  base: string;
  persona: { dir: string; core: string; relationships: string; routines: string; decisionRules: string; facets: string };
  memory: { dir: string; episodic: string; semantic: string; procedural: string; preferences: string; tasks: string; index: string; inbox: string };
  /** The profile's own config (etc/models.json is read instead of the root's once the user exists). */
  etc: { dir: string; models: string };
  state: string;
  logs: string;
  out: string;
}

/** A user's MetaHuman OS profile; the name is validated, so the result is always one folder below profiles/. */
export function profilePaths(root: string, username: string): ProfilePaths {
  const name = validateUsername(username);
  const profiles = path.join(root, "profiles");
  const base = path.join(profiles, name);
  if (path.dirname(base) !== profiles) throw new UsernameError(`username ${JSON.stringify(name)} would leave ${profiles}`);
  const persona = path.join(base, "persona");
  const memory = path.join(base, "memory");
  return {
    username: name,
    base,
    persona: {
      dir: persona,
      core: path.join(persona, "core.json"),
      relationships: path.join(persona, "relationships.json"),
      routines: path.join(persona, "routines.json"),
      decisionRules: path.join(persona, "decision-rules.json"),
      facets: path.join(persona, "facets.json"),
    },
    memory: {
      dir: memory,
      episodic: path.join(memory, "episodic"),
      semantic: path.join(memory, "semantic"),
      procedural: path.join(memory, "procedural"),
      preferences: path.join(memory, "preferences"),
      tasks: path.join(memory, "tasks"),
      index: path.join(memory, "index"),
      inbox: path.join(memory, "inbox"),
    },
    etc: { dir: path.join(base, "etc"), models: path.join(base, "etc", "models.json") },
    state: path.join(base, "state"),
    logs: path.join(base, "logs"),
    out: path.join(base, "out"),
  };
}

/**
 * What our own server writes on the volume, beside MetaHuman OS's tree: its accounts under users/<name>/ (the door's
 * login), the episodic memory and persona of its own chat route there, and its audit under logs/audit/.
 */
export interface UserTree {
  username: string;
  base: string;
  /** The user's login record (password hash). */
  account: string;
  memory: { episodic: string };
  persona: { core: string };
}

/** Where our server's audit lines go: logs/audit/ (MetaHuman OS's logs/ holds run/ and its own files beside it). */
export interface AuditTree {
  logs: { audit: string };
}

/** Errno codes that mean "this volume will not take writes" rather than a bug of ours. */
const VOLUME_WRITE_CODES: Record<string, string> = {
  EROFS: "the volume is read-only",
  EACCES: "the volume refuses writes (permission denied)",
  EPERM: "the volume refuses writes (operation not permitted)",
  ENOSPC: "the volume is full",
  EDQUOT: "the volume's quota is used up",
  EFBIG: "the file grew past the size limit",
  EIO: "the volume reported an I/O error",
  ENOENT: "a folder on the volume is gone",
};

/** A write to the volume that failed for a reason of the volume's (full, read-only, gone). */
function volumeWriteError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (err instanceof VolumeError) return err;
  if (code && VOLUME_WRITE_CODES[code]) return new VolumeError(`could not write ${what}: ${VOLUME_WRITE_CODES[code]} (${code})`, code);
  return err as Error;
}

// Every opened volume, so that the free writers below (appendJsonl, writeJsonAtomic) check the
// volume that holds the file they write, whoever calls them.
const openVolumes = new Map<string, MetaHumanPaths>();

function volumeHolding(file: string): MetaHumanPaths | undefined {
  let best: MetaHumanPaths | undefined;
  for (const [root, paths] of openVolumes) {
    if ((file === root || file.startsWith(root + path.sep)) && (!best || root.length > best.root.length)) best = paths;
  }
  return best;
}

export class MetaHumanPaths {
  /** MetaHuman OS's layout under the root. */
  readonly layout: MetahumanOsLayout;
  /** Our server's audit (logs/audit/). */
  readonly audit: AuditTree;
  /** Our server's accounts (users/<name>/). */
  readonly usersDir: string;

  private constructor(
    readonly root: string,
    /** The root's device and inode when the server started: a remount or a vanished volume changes them. */
    private readonly identity: { dev: bigint; ino: bigint },
  ) {
    this.layout = metahumanOsLayout(root);
    this.audit = { logs: { audit: path.join(root, "logs", "audit") } };
    this.usersDir = path.join(root, "users");
  }

  /**
   * Opens the volume: the root must exist, be a directory and be writable (checked by
   * writing a file, since mode bits lie on network filesystems). Creates only users/ (our
   * server's accounts): MetaHuman OS makes its own tree (etc/, brain/, profiles/...). Records the root's device and inode: after this, no write ever creates
   * the root or users/ again, and every write checks that the root is still the same folder.
   */
  static open(root: string): MetaHumanPaths {
    if (!path.isAbsolute(root)) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} must be an absolute path`);
    let stat: fs.BigIntStats;
    try {
      stat = fs.statSync(root, { bigint: true });
    } catch {
      throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} does not exist: is the network volume mounted?`, "ENOENT");
    }
    if (!stat.isDirectory()) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} is not a directory`);
    const probe = probeWritableSync(root);
    if (probe) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} is not writable (${probe})`, probe);
    const paths = new MetaHumanPaths(path.resolve(root), { dev: stat.dev, ino: stat.ino });
    try {
      fs.mkdirSync(paths.usersDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw volumeWriteError(err, paths.usersDir);
      if (!fs.statSync(paths.usersDir).isDirectory()) throw new VolumeError(`${paths.usersDir} is not a folder: METAHUMAN_ROOT/users holds the server's accounts, one folder per user`);
    }
    openVolumes.set(paths.root, paths);
    return paths;
  }

  /** Our server's tree for a user; the name is validated, so it can never leave users/. */
  user(username: string): UserTree {
    const name = validateUsername(username);
    const base = path.join(this.usersDir, name);
    return {
      username: name,
      base,
      account: path.join(base, "account.json"),
      memory: { episodic: path.join(base, "memory", "episodic") },
      persona: { core: path.join(base, "persona", "core.json") },
    };
  }

  /** A user's MetaHuman OS profile under profiles/ (paths only: MetaHuman OS creates it). */
  profile(username: string): ProfilePaths {
    return profilePaths(this.root, username);
  }

  /** Creates our server's folders for a user (idempotent); never creates the root or users/. */
  async ensureUser(username: string): Promise<UserTree> {
    const tree = this.user(username);
    await this.assertVolume();
    await this.createFolder(tree.memory.episodic);
    return tree;
  }

  /**
   * Undefined when the root is still the folder the server started with and users/ is
   * there; otherwise what is wrong. Reads only: it never writes to the volume.
   */
  async checkVolume(): Promise<string | undefined> {
    let stat: fs.BigIntStats;
    try {
      stat = await fsp.stat(this.root, { bigint: true });
    } catch (err) {
      return `METAHUMAN_ROOT ${this.root} is gone (${(err as NodeJS.ErrnoException).code ?? "unreadable"}): the network volume is no longer mounted`;
    }
    if (stat.dev !== this.identity.dev || stat.ino !== this.identity.ino) {
      return `METAHUMAN_ROOT ${this.root} is no longer the folder the server started with: the volume was unmounted or replaced`;
    }
    try {
      if (!(await fsp.stat(this.usersDir)).isDirectory()) return `${this.usersDir} is not a folder`;
    } catch {
      return `${this.usersDir} is gone from the volume`;
    }
    return undefined;
  }

  /** Throws a VolumeError when checkVolume finds a problem. */
  async assertVolume(): Promise<void> {
    const problem = await this.checkVolume();
    if (problem) throw new VolumeError(problem, "EVOLUME");
  }

  /**
   * Creates `dir` below the root one level at a time (never recursively from the top),
   * so a root or users/ that vanished is reported instead of being recreated on the
   * container's disk.
   */
  async createFolder(dir: string): Promise<void> {
    const relative = path.relative(this.root, dir);
    if (relative.startsWith("..") || path.isAbsolute(relative)) throw new Error(`${dir} is outside METAHUMAN_ROOT`);
    let current = this.root;
    for (const segment of relative.split(path.sep).filter(Boolean)) {
      current = path.join(current, segment);
      if (current === this.usersDir) continue; // checked by assertVolume; never created here
      try {
        await fsp.mkdir(current);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        if (code === "ENOENT") throw new VolumeError(`could not create ${current}: its parent is gone from the volume`, code);
        throw volumeWriteError(err, current);
      }
    }
  }

  /**
   * Undefined when the volume is the one the server started with and takes a write (a
   * probe file, written and removed), else the reason. For the health check, not for metrics.
   */
  async checkWritable(): Promise<string | undefined> {
    if (await this.checkVolume()) return "ENOENT";
    const probe = path.join(this.root, `.write-probe-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      await fsp.writeFile(probe, "ok");
      await fsp.unlink(probe);
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? "write failed";
    }
  }

  /** Used share of the filesystem that holds the root, 0..1. */
  async storageUsage(): Promise<{ usedRatio: number; totalBytes: number; freeBytes: number }> {
    const s = await fsp.statfs(this.root);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return { usedRatio: total > 0 ? (total - free) / total : 0, totalBytes: total, freeBytes: free };
  }
}

function probeWritableSync(dir: string): string | undefined {
  const probe = path.join(dir, `.write-probe-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    fs.writeFileSync(probe, "ok");
    fs.unlinkSync(probe);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "write failed";
  }
}

/** The folder of a file about to be written: checked and created inside its volume, if it is on one. */
async function prepareFolder(file: string): Promise<void> {
  const resolved = path.resolve(file);
  const volume = volumeHolding(resolved);
  if (!volume) {
    await fsp.mkdir(path.dirname(resolved), { recursive: true });
    return;
  }
  await volume.assertVolume();
  await volume.createFolder(path.dirname(resolved));
}

/** Writes JSON atomically (see writeFileAtomic), creating its folder first (never the root or users/). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await prepareFolder(file);
  try {
    await writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
  } catch (err) {
    throw volumeWriteError(err, file);
  }
}

/** Reads a JSON file; undefined when it does not exist. */
export async function readJson(file: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** UTC day of a date as YYYY-MM-DD. */
export function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

// Appends to one file from this process are queued, so that the file's size before an append
// is known and a failed append can be cut back to it.
const appendQueues = new Map<string, Promise<void>>();

/**
 * Appends one record as one line: the record is on disk whole, or not at all and the caller
 * gets a VolumeError. A short write (full disk, size limit) is cut back off the file; if even
 * that fails, the next append starts on a new line, so a record is never glued onto a fragment.
 * Appends from this process are queued per file; each line is one O_APPEND write when it fits.
 */
export async function appendJsonl(file: string, record: unknown): Promise<void> {
  const line = Buffer.from(JSON.stringify(record) + "\n", "utf8");
  const key = path.resolve(file);
  const previous = appendQueues.get(key) ?? Promise.resolve();
  const mine = previous.then(() => appendLine(key, line));
  const settled = mine.then(() => undefined, () => undefined);
  appendQueues.set(key, settled);
  void settled.then(() => {
    if (appendQueues.get(key) === settled) appendQueues.delete(key);
  });
  return mine;
}

async function appendLine(file: string, line: Buffer): Promise<void> {
  await prepareFolder(file);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "a+", 0o600);
  } catch (err) {
    throw volumeWriteError(err, file);
  }
  let sizeBefore = 0;
  try {
    sizeBefore = (await handle.stat()).size;
    let data = line;
    if (sizeBefore > 0) {
      // A fragment left by an earlier failure (or another process) ends without a newline.
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, sizeBefore - 1);
      if (last[0] !== 0x0a) data = Buffer.concat([Buffer.from("\n"), line]);
    }
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await handle.write(data, written, data.length - written);
      if (bytesWritten <= 0) throw Object.assign(new Error("no bytes written"), { code: "EIO" });
      written += bytesWritten;
    }
  } catch (err) {
    // Whole or absent: cut what this append wrote (the file was at sizeBefore when it began).
    await handle.truncate(sizeBefore).catch(() => undefined);
    await handle.close().catch(() => undefined);
    throw volumeWriteError(err, file);
  }
  await handle.close();
}

/** memory/episodic/YYYY/YYYY-MM-DD.jsonl */
export function episodicFile(tree: UserTree, at: Date): string {
  const day = dayOf(at);
  return path.join(tree.memory.episodic, day.slice(0, 4), `${day}.jsonl`);
}

/** logs/audit/YYYY-MM-DD.jsonl */
export function auditFile(tree: AuditTree, at: Date): string {
  return path.join(tree.logs.audit, `${dayOf(at)}.jsonl`);
}

export async function appendEpisodic(tree: UserTree, record: { timestamp: string } & Record<string, unknown>): Promise<string> {
  const file = episodicFile(tree, new Date(record.timestamp));
  await appendJsonl(file, record);
  return file;
}

export async function appendAudit(tree: AuditTree, record: { timestamp: string } & Record<string, unknown>): Promise<string> {
  const file = auditFile(tree, new Date(record.timestamp));
  await appendJsonl(file, record);
  return file;
}
