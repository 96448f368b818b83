// The MetaHuman tree on the network volume, shared and per user.
// Unlike MetaHuman OS, a missing or read-only METAHUMAN_ROOT is fatal: falling back to
// another folder would write a person's memory to a pod's ephemeral disk.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { writeFileAtomic } from "../common/atomic-file";

export class VolumeError extends Error {
  constructor(message: string) {
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

/** One MetaHuman tree (the shared one at the root, or a user's under users/{name}). */
export interface MetaHumanTree {
  base: string;
  memory: { episodic: string; semantic: string; tasks: string; index: string };
  persona: { core: string; relationships: string; routines: string };
  logs: { audit: string; run: string };
  etc: { models: string; agents: string; training: string };
}

function treeAt(base: string): MetaHumanTree {
  return {
    base,
    memory: {
      episodic: path.join(base, "memory", "episodic"),
      semantic: path.join(base, "memory", "semantic"),
      tasks: path.join(base, "memory", "tasks"),
      index: path.join(base, "memory", "index"),
    },
    persona: {
      core: path.join(base, "persona", "core.json"),
      relationships: path.join(base, "persona", "relationships.json"),
      routines: path.join(base, "persona", "routines.json"),
    },
    logs: { audit: path.join(base, "logs", "audit"), run: path.join(base, "logs", "run") },
    etc: {
      models: path.join(base, "etc", "models.json"),
      agents: path.join(base, "etc", "agents.json"),
      training: path.join(base, "etc", "training.json"),
    },
  };
}

function treeDirectories(tree: MetaHumanTree): string[] {
  return [
    ...Object.values(tree.memory),
    path.dirname(tree.persona.core),
    ...Object.values(tree.logs),
    path.dirname(tree.etc.models),
  ];
}

export interface UserTree extends MetaHumanTree {
  username: string;
  /** The user's login record (password hash). */
  account: string;
}

export class MetaHumanPaths {
  readonly shared: MetaHumanTree;
  readonly usersDir: string;

  private constructor(readonly root: string) {
    this.shared = treeAt(root);
    this.usersDir = path.join(root, "users");
  }

  /**
   * Opens the volume: the root must exist, be a directory and be writable (checked by
   * writing a file, since mode bits lie on network filesystems). Creates the shared tree.
   */
  static open(root: string): MetaHumanPaths {
    if (!path.isAbsolute(root)) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} must be an absolute path`);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(root);
    } catch {
      throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} does not exist: is the network volume mounted?`);
    }
    if (!stat.isDirectory()) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} is not a directory`);
    const probe = probeWritableSync(root);
    if (probe) throw new VolumeError(`METAHUMAN_ROOT ${JSON.stringify(root)} is not writable (${probe})`);
    const paths = new MetaHumanPaths(path.resolve(root));
    for (const dir of [...treeDirectories(paths.shared), paths.usersDir]) fs.mkdirSync(dir, { recursive: true });
    return paths;
  }

  /** A user's tree; the name is validated, so it can never leave users/. */
  user(username: string): UserTree {
    const name = validateUsername(username);
    const base = path.join(this.usersDir, name);
    return { ...treeAt(base), username: name, account: path.join(base, "account.json") };
  }

  /** Creates a user's tree (idempotent). */
  async ensureUser(username: string): Promise<UserTree> {
    const tree = this.user(username);
    await Promise.all(treeDirectories(tree).map((d) => fsp.mkdir(d, { recursive: true })));
    return tree;
  }

  /** Writes and removes a probe file; resolves to undefined when writable, else the reason. */
  async checkWritable(): Promise<string | undefined> {
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

/** Writes JSON atomically (see writeFileAtomic), creating its folder first. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
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

/**
 * Appends one record as one line. Each line is written with a single O_APPEND write,
 * so concurrent writers never interleave inside a line.
 */
export async function appendJsonl(file: string, record: unknown): Promise<void> {
  const line = JSON.stringify(record) + "\n";
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const handle = await fsp.open(file, "a", 0o600);
  try {
    await handle.write(line);
  } finally {
    await handle.close();
  }
}

/** memory/episodic/YYYY/YYYY-MM-DD.jsonl */
export function episodicFile(tree: MetaHumanTree, at: Date): string {
  const day = dayOf(at);
  return path.join(tree.memory.episodic, day.slice(0, 4), `${day}.jsonl`);
}

/** logs/audit/YYYY-MM-DD.jsonl */
export function auditFile(tree: MetaHumanTree, at: Date): string {
  return path.join(tree.logs.audit, `${dayOf(at)}.jsonl`);
}

export async function appendEpisodic(tree: MetaHumanTree, record: { timestamp: string } & Record<string, unknown>): Promise<string> {
  const file = episodicFile(tree, new Date(record.timestamp));
  await appendJsonl(file, record);
  return file;
}

export async function appendAudit(tree: MetaHumanTree, record: { timestamp: string } & Record<string, unknown>): Promise<string> {
  const file = auditFile(tree, new Date(record.timestamp));
  await appendJsonl(file, record);
  return file;
}
