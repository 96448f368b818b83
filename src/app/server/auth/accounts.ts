// Login records on the volume: users/{name}/account.json, one file per user, written
// atomically, so adding a user never rewrites (or races on) anyone else's record.
import { z } from "zod";
import { readJson, writeJsonAtomic, validateUsername, type MetaHumanPaths } from "../../paths";
import { dummyPasswordHash, hashPassword, verifyPassword } from "./passwords";

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

const accountSchema = z.object({ username: z.string(), passwordHash: z.string(), createdAt: z.string(), updatedAt: z.string().optional() });
export type Account = z.infer<typeof accountSchema>;

export async function readAccount(paths: MetaHumanPaths, username: string): Promise<Account | undefined> {
  const raw = await readJson(paths.user(username).account);
  if (raw === undefined) return undefined;
  return accountSchema.parse(raw);
}

/** Creates the user (or replaces the password of an existing one) and their tree. */
export async function setPassword(paths: MetaHumanPaths, username: string, password: string, now = new Date()): Promise<{ created: boolean }> {
  validateUsername(username);
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new Error(`password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long (got ${password.length})`);
  }
  const tree = await paths.ensureUser(username);
  const existing = await readAccount(paths, username);
  const passwordHash = await hashPassword(password);
  const account: Account = existing
    ? { ...existing, passwordHash, updatedAt: now.toISOString() }
    : { username, passwordHash, createdAt: now.toISOString() };
  await writeJsonAtomic(tree.account, account);
  return { created: !existing };
}

/** The username when the password matches; undefined otherwise (same work either way). */
export async function authenticate(paths: MetaHumanPaths, username: string, password: string): Promise<string | undefined> {
  let account: Account | undefined;
  try {
    account = await readAccount(paths, username);
  } catch {
    account = undefined;
  }
  if (!account) {
    await verifyPassword(password, await dummyPasswordHash());
    return undefined;
  }
  return (await verifyPassword(password, account.passwordHash)) ? account.username : undefined;
}
