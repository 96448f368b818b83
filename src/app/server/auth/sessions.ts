// Stateless signed session cookies: `<payload>.<hmac>`, both base64url. Any web pod
// with the same SESSION_SECRET accepts them, so no session store is shared on the volume.
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

export const SESSION_COOKIE = "mh_session";
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

const payloadSchema = z.object({ u: z.string(), iat: z.number(), exp: z.number() });
export interface Session {
  username: string;
  issuedAt: number;
  expiresAt: number;
}

const mac = (secret: string, data: string) => createHmac("sha256", secret).update(data).digest();

export function signSession(username: string, secret: string, nowSeconds: number, ttlSeconds = SESSION_TTL_SECONDS): string {
  const payload = Buffer.from(JSON.stringify({ u: username, iat: nowSeconds, exp: nowSeconds + ttlSeconds })).toString("base64url");
  return `${payload}.${mac(secret, payload).toString("base64url")}`;
}

/** The session, or undefined when the token is malformed, forged or expired. */
export function verifySession(token: string | undefined, secret: string, nowSeconds: number): Session | undefined {
  if (!token) return undefined;
  const dot = token.indexOf(".");
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let parsed: z.infer<typeof payloadSchema>;
  try {
    parsed = payloadSchema.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch {
    return undefined;
  }
  if (parsed.exp <= nowSeconds) return undefined;
  return { username: parsed.u, issuedAt: parsed.iat, expiresAt: parsed.exp };
}
