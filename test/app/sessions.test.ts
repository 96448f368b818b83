import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../../src/app/server/auth/passwords";
import { signSession, verifySession } from "../../src/app/server/auth/sessions";
import { RateLimiter } from "../../src/app/server/rate-limit";

const SECRET = "k".repeat(40);

describe("signed sessions", () => {
  it("accept their own token until it expires", () => {
    const token = signSession("ada", SECRET, 1000, 60);
    expect(verifySession(token, SECRET, 1059)).toEqual({ username: "ada", issuedAt: 1000, expiresAt: 1060 });
    expect(verifySession(token, SECRET, 1060)).toBeUndefined();
  });

  it("reject another secret's token (another deployment) and malformed tokens", () => {
    const token = signSession("ada", SECRET, 1000);
    expect(verifySession(token, "other".repeat(10), 1001)).toBeUndefined();
    for (const bad of ["", ".", "abc", "abc.", ".abc", `${token}x`]) expect(verifySession(bad, SECRET, 1001)).toBeUndefined();
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
