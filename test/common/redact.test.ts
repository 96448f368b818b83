import { afterEach, describe, expect, it } from "vitest";
import { bodyExcerpt, redactSecrets, secretsInHeaders } from "../../src/common/redact";

const saved = { RUNPOD_API_KEY: process.env.RUNPOD_API_KEY, OPENAI_API_KEY: process.env.OPENAI_API_KEY };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("redactSecrets", () => {
  it("removes the keys configured in the environment, read at call time", () => {
    process.env.RUNPOD_API_KEY = "key-from-env-ABCDEFGH";
    process.env.OPENAI_API_KEY = "other-key-from-env-12345";
    expect(redactSecrets("a key-from-env-ABCDEFGH b other-key-from-env-12345 c")).toBe("a [redacted] b [redacted] c");
    process.env.RUNPOD_API_KEY = "changed-key-ZYXWVUTS";
    expect(redactSecrets("changed-key-ZYXWVUTS")).toBe("[redacted]");
  });

  it("removes any Bearer or Basic credential, and key-shaped tokens", () => {
    expect(redactSecrets('{"authorization":"Bearer eyJhbGciOi.x-y_z"}')).toBe('{"authorization":"Bearer [redacted]"}');
    expect(redactSecrets("authorization: bearer abc123, next")).toBe("authorization: bearer [redacted], next");
    expect(redactSecrets("Basic dXNlcjpwYXNz")).toBe("Basic [redacted]");
    // Built at run time: the repository holds no literal that looks like a RunPod key.
    const runpodShaped = ["rpa", "ABCDEFGHIJKLMNOP1234"].join("_");
    expect(redactSecrets(`key ${runpodShaped} end`)).toBe("key rpa_[redacted] end");
    const openaiShaped = ["sk", "proj", "abcdefghijklmnopqrstu"].join("-");
    expect(redactSecrets(`key ${openaiShaped} end`)).toBe("key sk-[redacted] end");
  });

  it("removes the secrets it is given, the longest first; ignores values too short to be keys", () => {
    expect(redactSecrets("secret-value-1 and secret-value-1-longer", ["secret-value-1", "secret-value-1-longer"])).toBe("[redacted] and [redacted]");
    expect(redactSecrets("a b c", ["a", undefined, ""])).toBe("a b c");
  });

  it("leaves ordinary text alone", () => {
    expect(redactSecrets("RunPod API GET /v2/pods failed (404 Not Found): pod abc does not exist")).toBe(
      "RunPod API GET /v2/pods failed (404 Not Found): pod abc does not exist",
    );
  });
});

describe("bodyExcerpt", () => {
  it("redacts before cutting, so a key at the cut is not left half visible", () => {
    const key = "k".repeat(30) + "SECRET-TAIL";
    const body = "x".repeat(490) + key;
    const excerpt = bodyExcerpt(body, [key], 500);
    expect(excerpt).not.toContain("kkkkkkkkkk");
    expect(excerpt.endsWith("[redacted]")).toBe(true);
  });

  it("folds whitespace and bounds the length", () => {
    expect(bodyExcerpt("<html>\n  <body>busy</body>\n</html>")).toBe("<html> <body>busy</body> </html>");
    expect(bodyExcerpt("y".repeat(2000)).length).toBe(501);
  });
});

describe("secretsInHeaders", () => {
  it("finds the credentials a request sent", () => {
    expect(secretsInHeaders({ authorization: "Bearer tok-123456789", "x-api-key": "xk-987654321", accept: "application/json" })).toEqual([
      "tok-123456789",
      "xk-987654321",
    ]);
  });
});
