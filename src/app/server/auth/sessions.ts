// Stateless signed session cookies: `<payload>.<hmac>`, both base64url. Any web pod
// with the same SESSION_SECRET accepts them, so no session store is shared on the volume.
// The payload carries the account's session version (`v`) and a session id (`sid`): the
// guard compares them with the account file, which is how a session is revoked.
import { createHmac, randomBytes } from "node:crypto";
import { z } from "zod";
import { verifiedPayload } from "./signed-token";

/** Cookie name over plain HTTP (development, tests). */
export const SESSION_COOKIE = "door_session";
/**
 * Cookie name over HTTPS. Browsers accept a `__Host-` cookie only from a secure origin, with
 * Path=/ and no Domain, so a neighbour under a shared parent domain (another pod at
 * *.proxy.runpod.net) cannot plant or overwrite it.
 */
export const SECURE_SESSION_COOKIE = "__Host-door_session";
export const SESSION_TTL_SECONDS = 12 * 60 * 60;
/** Clock difference between web pods that is tolerated on the issue time. */
export const CLOCK_SKEW_SECONDS = 60;

/** The cookie name for a deployment that does (production) or does not use HTTPS. */
export const sessionCookieName = (secure: boolean) => (secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE);

// payload: base64url of at most ~200 bytes of JSON; signature: HMAC-SHA256 = 32 bytes = 43 characters.
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{16,400})\.([A-Za-z0-9_-]{43})$/;
const USERNAME_IN_TOKEN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

const payloadSchema = z
  .object({
    u: z.string().regex(USERNAME_IN_TOKEN),
    v: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    sid: z.string().regex(/^[A-Za-z0-9_-]{8,32}$/),
    iat: z.number().int().nonnegative(),
    exp: z.number().int().positive(),
  })
  .strict();

export interface Session {
  username: string;
  /** The account's session version when the session was issued. */
  version: number;
  sessionId: string;
  issuedAt: number;
  expiresAt: number;
}

const mac = (secret: string, data: string) => createHmac("sha256", secret).update(data).digest();

export interface SignSessionOptions {
  /** The account's current session version. */
  version: number;
  ttlSeconds?: number;
  sessionId?: string;
}

export function signSession(username: string, secret: string, nowSeconds: number, options: SignSessionOptions): string {
  const ttl = options.ttlSeconds ?? SESSION_TTL_SECONDS;
  const sid = options.sessionId ?? randomBytes(12).toString("base64url");
  const payload = Buffer.from(JSON.stringify({ u: username, v: options.version, sid, iat: nowSeconds, exp: nowSeconds + ttl })).toString("base64url");
  return `${payload}.${mac(secret, payload).toString("base64url")}`;
}

/**
 * The session, or undefined when the token is malformed (anything but exactly
 * `payload.signature` in base64url), forged, expired, issued in the future, valid for
 * longer than a session lives, or names a username that could not exist.
 */
export function verifySession(token: string | undefined, secret: string, nowSeconds: number): Session | undefined {
  if (!token) return undefined;
  const text = verifiedPayload(token, TOKEN_PATTERN, (payload) => mac(secret, payload));
  if (text === undefined) return undefined;
  let parsed: z.infer<typeof payloadSchema>;
  try {
    parsed = payloadSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (parsed.exp <= nowSeconds) return undefined;
  if (parsed.iat > nowSeconds + CLOCK_SKEW_SECONDS) return undefined;
  if (parsed.exp <= parsed.iat || parsed.exp - parsed.iat > SESSION_TTL_SECONDS) return undefined;
  return { username: parsed.u, version: parsed.v, sessionId: parsed.sid, issuedAt: parsed.iat, expiresAt: parsed.exp };
}
