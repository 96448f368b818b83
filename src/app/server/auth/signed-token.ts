// The signed tokens our cookies carry (the session and the known-device cookie): `<base64url payload>.<HMAC-SHA256>`.
import { timingSafeEqual } from "node:crypto";

/**
 * The payload's text when the token has the shape `pattern` allows and its signature is `mac(payload)`; otherwise
 * undefined. base64url decoding ignores trailing bits, so the signature and the payload must also re-encode to exactly
 * what was sent.
 */
export function verifiedPayload(token: string, pattern: RegExp, mac: (payload: string) => Buffer): string | undefined {
  const match = pattern.exec(token);
  if (!match) return undefined;
  const [, payload, signature] = match as unknown as [string, string, string];
  const given = Buffer.from(signature, "base64url");
  const expected = mac(payload);
  if (given.length !== expected.length || given.toString("base64url") !== signature || !timingSafeEqual(given, expected)) return undefined;
  const json = Buffer.from(payload, "base64url");
  return json.toString("base64url") === payload ? json.toString("utf8") : undefined;
}
