// Login records on the volume: users/{name}/account.json, one file per user, written
// atomically, so adding a user never rewrites (or races on) anyone else's record.
// The record also decides which sessions are still good: a session carries the account's
// `sessionVersion` (bumped on logout-everywhere, password change and deletion) and its own id,
// which a plain logout adds to `revokedSessions` until the session would have expired anyway.
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { z } from "zod";
import { withFileLock } from "../../../common/file-lock";
import { readJson, writeJsonAtomic, validateUsername, type MetaHumanPaths } from "../../paths";
import { dummyPasswordHash, hashPassword, verifyPassword } from "./passwords";
import type { Session } from "./sessions";

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;
/** Revoked session ids kept per account; past this, a logout revokes every session instead. */
export const MAX_REVOKED_SESSIONS = 200;

const accountSchema = z.object({
  username: z.string(),
  passwordHash: z.string(),
  createdAt: z.string(),
  updatedAt: z.string().optional(),
  /** Sessions signed with another version are refused. Accounts from before versions read as 0. */
  sessionVersion: z.number().int().nonnegative().default(0),
  revokedSessions: z.array(z.object({ id: z.string(), exp: z.number() })).default([]),
});
export type Account = z.infer<typeof accountSchema>;

export async function readAccount(paths: MetaHumanPaths, username: string): Promise<Account | undefined> {
  const raw = await readJson(paths.user(username).account);
  if (raw === undefined) return undefined;
  return accountSchema.parse(raw);
}

// Read-modify-write of one account file at a time, in this process and in every other one that shares
// the volume (two web pods, or a logout on one while the password changes on another): without it, two
// logouts at once each write back the list they read, and one revocation is lost. The lock lives in
// users/ beside the user folders (a name there never starts with a dot), so deleting a user's folder
// while holding it leaves the lock itself alone.
function withAccountLock<T>(paths: MetaHumanPaths, username: string, work: () => Promise<T>): Promise<T> {
  const name = paths.user(username).username;
  return withFileLock(path.join(paths.usersDir, `.${name}.account.lock`), work);
}

/**
 * A new version, larger than any before it even across a deletion and re-creation of the
 * same name: a millisecond clock, or one more than the last when the clock is behind.
 */
function nextVersion(previous: number | undefined, now: Date): number {
  return Math.max((previous ?? 0) + 1, now.getTime());
}

/** Creates the user (or replaces the password of an existing one, ending all their sessions) and their tree. */
export async function setPassword(paths: MetaHumanPaths, username: string, password: string, now = new Date()): Promise<{ created: boolean }> {
  validateUsername(username);
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new Error(`password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long (got ${password.length})`);
  }
  if (password.includes("\u0000")) throw new Error("password must not contain a NUL character");
  const tree = await paths.ensureUser(username);
  const passwordHash = await hashPassword(password);
  return withAccountLock(paths, username, async () => {
    const existing = await readAccount(paths, username);
    const account: Account = existing
      ? { ...existing, passwordHash, updatedAt: now.toISOString(), sessionVersion: nextVersion(existing.sessionVersion, now), revokedSessions: [] }
      : { username, passwordHash, createdAt: now.toISOString(), sessionVersion: nextVersion(undefined, now), revokedSessions: [] };
    await writeJsonAtomic(tree.account, account);
    return { created: !existing };
  });
}

/** Ends every session of the user, on every device. False when there is no such account. */
export async function revokeAllSessions(paths: MetaHumanPaths, username: string, now = new Date()): Promise<boolean> {
  return withAccountLock(paths, username, async () => {
    const account = await readAccount(paths, username);
    if (!account) return false;
    await writeJsonAtomic(paths.user(username).account, {
      ...account,
      sessionVersion: nextVersion(account.sessionVersion, now),
      revokedSessions: [],
    } satisfies Account);
    return true;
  });
}

/** Ends one session (a logout): its id is refused until the session would have expired. */
export async function revokeSession(paths: MetaHumanPaths, session: Session, now = new Date()): Promise<void> {
  await withAccountLock(paths, session.username, async () => {
    const account = await readAccount(paths, session.username);
    if (!account || account.sessionVersion !== session.version) return; // already not valid
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const kept = account.revokedSessions.filter((r) => r.exp > nowSeconds && r.id !== session.sessionId);
    const next: Account =
      kept.length >= MAX_REVOKED_SESSIONS
        ? { ...account, sessionVersion: nextVersion(account.sessionVersion, now), revokedSessions: [] }
        : { ...account, revokedSessions: [...kept, { id: session.sessionId, exp: session.expiresAt }] };
    await writeJsonAtomic(paths.user(session.username).account, next);
  });
}

/**
 * Deletes a user: first their sessions end (the version is bumped, so a copy of the account
 * file restored later does not revive old cookies), then their folder goes.
 */
export async function deleteUser(paths: MetaHumanPaths, username: string, now = new Date()): Promise<boolean> {
  const tree = paths.user(username);
  const existed = await revokeAllSessions(paths, username, now);
  await withAccountLock(paths, username, async () => {
    await fsp.rm(tree.account, { force: true });
    await fsp.rm(tree.base, { recursive: true, force: true });
  });
  return existed;
}

/**
 * Whether a session whose signature checked out is still good: its account exists, has the
 * same session version, and has not revoked this session. A missing account means no.
 */
export async function sessionIsCurrent(paths: MetaHumanPaths, session: Session): Promise<boolean> {
  let account: Account | undefined;
  try {
    account = await readAccount(paths, session.username);
  } catch {
    return false;
  }
  if (!account || account.username !== session.username) return false;
  if (account.sessionVersion !== session.version) return false;
  return !account.revokedSessions.some((r) => r.id === session.sessionId);
}

/** The account when the password matches; undefined otherwise (same work either way). */
export async function authenticate(paths: MetaHumanPaths, username: string, password: string): Promise<Account | undefined> {
  let account: Account | undefined;
  try {
    account = await readAccount(paths, username);
  } catch {
    account = undefined;
  }
  // scrypt keys HMAC with the password, and HMAC pads keys with zero bytes: "pw" and "pw\0" hash
  // alike. No password may contain NUL (setPassword refuses it), so one that does is simply wrong.
  if (!account || password.includes("\u0000")) {
    await verifyPassword(password, await dummyPasswordHash());
    return undefined;
  }
  return (await verifyPassword(password, account.passwordHash)) ? account : undefined;
}
