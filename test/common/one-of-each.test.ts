// Issue 9's "one of each", checked on the source so that a second copy cannot creep back in: one
// status rule, one Retry-After parser, one backoff, one sleep, one SSE parser; errors told apart by
// class (isInstance), not by name; dynamic providers without casts.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(__dirname, "../../src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : /\.(ts|js)$/.test(name) ? [full] : [];
  });
}

const sources = files(SRC).map((file) => ({ file: path.relative(SRC, file), text: readFileSync(file, "utf8") }));

/** Files whose text matches `pattern`. */
const where = (pattern: RegExp) => sources.filter((s) => pattern.test(s.text)).map((s) => s.file);

describe("one of each", () => {
  it("sees the sources", () => {
    expect(sources.length).toBeGreaterThan(40);
  });

  it("one retry status rule, Retry-After parser, backoff, sleep and retry loop", () => {
    expect(where(/function isRetryableStatus\b/)).toEqual(["common/errors.ts"]);
    expect(where(/function parseRetryAfter\b/)).toEqual(["common/http.ts"]);
    expect(where(/function backoffMs\b/)).toEqual(["common/http.ts"]);
    expect(where(/function sleep\b/)).toEqual(["common/http.ts"]);
    expect(where(/function withRetries\b/)).toEqual(["common/http.ts"]);
  });

  it("one SSE parser: eventsource-parser, in src/common and (its browser build) in the page", () => {
    expect(where(/from "eventsource-parser"/)).toEqual(["common/sse.ts"]);
    expect(where(/from "\/vendor\/eventsource-parser\.js"/)).toEqual(["app/public/app.js"]);
    // No hand-made reader: nothing else splits on the blank line between events or strips "data:".
    expect(where(/indexOf\("\\n\\n"\)|split\("\\n\\n"\)|startsWith\("data:/)).toEqual([]);
  });

  it("errors are told apart by class, not by name, in the clients, the providers and the chat route", () => {
    const mine = sources.filter((s) => /^(common|runpod|app\/llm)\//.test(s.file) || /^app\/server\/routes\/chat/.test(s.file));
    expect(mine.length).toBeGreaterThan(15);
    const byName = mine.filter((s) => /\.name\s*[!=]==\s*["'`]|["'`]\w*Error["'`]\s*[!=]==\s*\w+\.name/.test(s.text)).map((s) => s.file);
    expect(byName).toEqual([]);
  });

  it("the dynamic providers need no casts", () => {
    const resources = sources.filter((s) => s.file.startsWith("runpod/resources/"));
    expect(resources.length).toBeGreaterThanOrEqual(4);
    expect(resources.filter((s) => /as unknown as|as never\b/.test(s.text)).map((s) => s.file)).toEqual([]);
  });
});
