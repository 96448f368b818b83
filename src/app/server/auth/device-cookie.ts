// A browser that has logged in to an account before carries a signed "known device" cookie for it
// (OWASP's device cookies against online guessing). A flood of wrong passwords from strangers closes the
// login for unknown browsers only: a known browser has a failure budget of its own, so the owner still
// gets in while the account is under attack, even from the same proxy address as the attacker. The
// cookie is no credential: it only says which failure budget an attempt counts against.
import { createHmac, randomBytes } from "node:crypto";
import { z } from "zod";
import { cookieValues } from "../cookies";
import { verifiedPayload } from "./signed-token";

/** Cookie name over plain HTTP (development, tests). */
export const DEVICE_COOKIE = "door_device";
/** Cookie name over HTTPS (`__Host-`: only this origin, Path=/, no Domain). */
export const SECURE_DEVICE_COOKIE = "__Host-door_device";
/** A browser unused for this long is unknown again. */
export const DEVICE_TTL_SECONDS = 180 * 24 * 60 * 60;

export const deviceCookieName = (secure: boolean) => (secure ? SECURE_DEVICE_COOKIE : DEVICE_COOKIE);

const TOKEN_PATTERN = /^([A-Za-z0-9_-]{16,300})\.([A-Za-z0-9_-]{43})$/;
const payloadSchema = z
  .object({ u: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/), d: z.string().regex(/^[A-Za-z0-9_-]{16}$/), exp: z.number().int().positive() })
  .strict();

export interface KnownDevice {
  username: string;
  /** Random per browser: the key of its failure budget. */
  deviceId: string;
}

// "device." keeps these MACs apart from session tokens signed with the same secret.
const mac = (secret: string, payload: string) => createHmac("sha256", secret).update(`device.${payload}`).digest();

export function signDevice(username: string, secret: string, nowSeconds: number, deviceId = randomBytes(12).toString("base64url")): string {
  const payload = Buffer.from(JSON.stringify({ u: username, d: deviceId, exp: nowSeconds + DEVICE_TTL_SECONDS })).toString("base64url");
  return `${payload}.${mac(secret, payload).toString("base64url")}`;
}

function verifyDevice(token: string, secret: string, nowSeconds: number): KnownDevice | undefined {
  const text = verifiedPayload(token, TOKEN_PATTERN, (payload) => mac(secret, payload));
  if (text === undefined) return undefined;
  try {
    const parsed = payloadSchema.parse(JSON.parse(text));
    return parsed.exp > nowSeconds ? { username: parsed.u, deviceId: parsed.d } : undefined;
  } catch {
    return undefined;
  }
}

/** The known device for `username` among the request's device cookies, if any is valid. */
export function knownDevice(cookieHeader: string | undefined, name: string, username: string, secret: string, nowSeconds: number): KnownDevice | undefined {
  for (const token of cookieValues(cookieHeader, name, 5)) {
    const device = verifyDevice(token, secret, nowSeconds);
    if (device && device.username === username) return device;
  }
  return undefined;
}
