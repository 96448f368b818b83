// The session cookie: set and cleared through @fastify/cookie, read from the raw header.
// A Cookie header can carry the same name several times (a neighbour under a shared parent
// domain can add `door_session=junk; Domain=...`), and a parser that keeps one of them (the
// first, or the last) lets the planted one win or lock the person out. So every value of the
// name is returned, and the guard keeps the one that verifies.
import type { CookieSerializeOptions } from "@fastify/cookie";

/** Every value the Cookie header carries for `name`, in order, at most `limit` of them. */
export function cookieValues(header: string | undefined, name: string, limit = 20): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    out.push(value);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Path=/ and no
 * Domain (what the `__Host-` prefix requires), Secure in production.
 */
export function sessionCookieOptions(secure: boolean, maxAgeSeconds: number): CookieSerializeOptions {
  return { path: "/", httpOnly: true, sameSite: "lax", secure, maxAge: Math.max(0, Math.floor(maxAgeSeconds)) };
}
