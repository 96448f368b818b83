import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PasswordGate, PasswordsBusyError, hashPassword, verifyPassword } from "../../src/app/server/auth/passwords";
import { SESSION_TTL_SECONDS, signSession, verifySession } from "../../src/app/server/auth/sessions";
import { RateLimiter } from "../../src/app/server/rate-limit";

const SECRET = "k".repeat(40);
const v = { version: 7 };
/** Signed by hand, so the checks below do not depend on what signSession would refuse to make. */
const signed = (payload: Record<string, unknown>) => {
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
};

describe("signed sessions", () => {
  it("accept their own token until it expires", () => {
    const token = signSession("ada", SECRET, 1000, { ...v, ttlSeconds: 60, sessionId: "abcdefgh12" });
    expect(verifySession(token, SECRET, 1059)).toEqual({ username: "ada", version: 7, sessionId: "abcdefgh12", issuedAt: 1000, expiresAt: 1060 });
    expect(verifySession(token, SECRET, 1060)).toBeUndefined();
  });

  it("reject another secret's token (another deployment) and malformed tokens", () => {
    const token = signSession("ada", SECRET, 1000, v);
    expect(verifySession(token, "other".repeat(10), 1001)).toBeUndefined();
    for (const bad of ["", ".", "abc", "abc.", ".abc", `${token}x`]) expect(verifySession(bad, SECRET, 1001)).toBeUndefined();
  });

  // Finding 10: anything after or around the signature, or any character outside base64url, is refused.
  it("accept exactly `payload.signature`: no trailing characters, padding, extra dots or spaces", () => {
    const token = signSession("ada", SECRET, 1000, v);
    expect(verifySession(token, SECRET, 1001)).toBeDefined();
    for (const bad of [`${token}!!`, `${token}=`, `${token}.`, `${token}==`, `${token}.x`, ` ${token}`, `${token} `, `${token}%00`, token.replace(".", ".."), `.${token}`]) {
      expect(verifySession(bad, SECRET, 1001), bad.slice(-6)).toBeUndefined();
    }
    // base64url ignores the last character's spare bits: a changed last character must still fail.
    const last = token.at(-1)!;
    const sibling = String.fromCharCode(last.charCodeAt(0) ^ 1);
    if (/[A-Za-z0-9_-]/.test(sibling)) expect(verifySession(token.slice(0, -1) + sibling, SECRET, 1001)).toBeUndefined();
  });

  it("refuse an issue time in the future and a lifetime longer than a session lives, even when signed", () => {
    expect(verifySession(signed({ u: "ada", iat: 5000, exp: 6000 }), SECRET, 1000)).toBeUndefined(); // the old payload shape too
    const future = signSession("ada", SECRET, 5000, v);
    expect(verifySession(future, SECRET, 1000)).toBeUndefined();
    expect(verifySession(future, SECRET, 4950)).toBeDefined(); // within the tolerated clock skew
    expect(verifySession(signed({ u: "ada", v: 7, sid: "abcdefgh12", iat: 1000, exp: 9e9 }), SECRET, 1001)).toBeUndefined();
    const forever = signSession("ada", SECRET, 1000, { ...v, ttlSeconds: 10 * 365 * 24 * 3600 });
    expect(verifySession(forever, SECRET, 1001)).toBeUndefined();
    expect(verifySession(signSession("ada", SECRET, 1000, { ...v, ttlSeconds: SESSION_TTL_SECONDS }), SECRET, 1001)).toBeDefined();
  });

  // Finding 11: the username is checked like any other; `../x` never reaches the paths module.
  it("refuse a signed token whose username could not exist", () => {
    for (const name of ["../x", "..", "a/b", "", "x".repeat(33), "ada\u0000"]) {
      expect(verifySession(signed({ u: name, v: 7, sid: "abcdefgh12", iat: 1000, exp: 2000 }), SECRET, 1001), name).toBeUndefined();
    }
  });
});

describe("scrypt passwords", () => {
  it("verify the right password only, with a fresh salt each time", async () => {
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse battery", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", a)).toBe(false);
    expect(await verifyPassword("x", "bcrypt$whatever")).toBe(false);
  });

  it("run at most N at once through the gate, queue a few, and refuse the rest at once", async () => {
    const gate = new PasswordGate(2, 3);
    let running = 0;
    let peak = 0;
    const work = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return "done";
    };
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => gate.run(work)));
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
    expect(results.filter((r) => r.status === "rejected" && r.reason instanceof PasswordsBusyError)).toHaveLength(3);
    expect(await gate.run(work)).toBe("done"); // free again afterwards
  });
});

describe("rate limiter", () => {
  it("allows the limit per window and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter(2, 1000, () => now);
    expect(limiter.hit("u")).toBeUndefined();
    expect(limiter.hit("u")).toBeUndefined();
    now = 400;
    expect(limiter.hit("u")).toBe(600);
    expect(limiter.hit("other")).toBeUndefined();
    now = 1000;
    expect(limiter.hit("u")).toBeUndefined();
  });
});
