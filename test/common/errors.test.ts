// The error family: isInstance by marker (not by name, not only by instanceof), stack and message set,
// messages and bodies redacted.
import { afterEach, describe, expect, it } from "vitest";
import { ApiCallError, MetaHumanError } from "../../src/common/errors";
import { RunPodApiError } from "../../src/runpod/errors";
import { ServerlessRateLimitError, ServerlessTimeoutError } from "../../src/runpod/job-api-errors";
import { LLMApiError, LLMError, LLMResponseError } from "../../src/app/llm/errors";

const saved = process.env.RUNPOD_API_KEY;
afterEach(() => {
  if (saved === undefined) delete process.env.RUNPOD_API_KEY;
  else process.env.RUNPOD_API_KEY = saved;
});

describe("the error family", () => {
  it("each member is found by its own isInstance and its ancestors', not by its siblings'", () => {
    const rest = new RunPodApiError({ method: "GET", path: "/v2/pods", url: "http://x/v2/pods", status: 503, title: "Busy", detail: "later", fieldErrors: [] });
    const rateLimited = new ServerlessRateLimitError({ message: "slow down", url: "http://x/run", method: "POST" });
    const timeout = new ServerlessTimeoutError("too long", "deadline", "job-1", "IN_QUEUE");
    const llm = new LLMResponseError("not a chunk");
    expect([RunPodApiError.isInstance(rest), ApiCallError.isInstance(rest), MetaHumanError.isInstance(rest)]).toEqual([true, true, true]);
    expect(ServerlessRateLimitError.isInstance(rest)).toBe(false);
    expect([ServerlessRateLimitError.isInstance(rateLimited), ApiCallError.isInstance(rateLimited), RunPodApiError.isInstance(rateLimited)]).toEqual([true, true, false]);
    expect([ServerlessTimeoutError.isInstance(timeout), ApiCallError.isInstance(timeout), MetaHumanError.isInstance(timeout)]).toEqual([true, false, true]);
    expect([LLMResponseError.isInstance(llm), LLMError.isInstance(llm), LLMApiError.isInstance(llm)]).toEqual([true, true, false]);
  });

  it("a look-alike with the same name is not one of ours", () => {
    const impostor = Object.assign(new Error("x"), { name: "ServerlessTimeoutError", isRetryable: true });
    expect(ServerlessTimeoutError.isInstance(impostor)).toBe(false);
    expect(MetaHumanError.isInstance(impostor)).toBe(false);
    expect(MetaHumanError.isInstance(null)).toBe(false);
    expect(MetaHumanError.isInstance("ServerlessTimeoutError")).toBe(false);
  });

  it("status decides isRetryable unless told; no answer is retryable", () => {
    const at = (status?: number) => new ApiCallError({ message: "m", url: "u", method: "GET", status }).isRetryable;
    expect([at(400), at(404), at(409), at(429), at(500), at(undefined)]).toEqual([false, false, true, true, true, true]);
    expect(new ApiCallError({ message: "m", url: "u", method: "GET", status: 500, isRetryable: false }).isRetryable).toBe(false);
  });

  it("is a real Error with name, message, stack headed by its class, cause and a JSON form", () => {
    const cause = new Error("socket hang up");
    const error = new ApiCallError({ message: "GET u failed", url: "u", method: "GET", cause });
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toBe("ApiCallError: GET u failed");
    expect(error.stack).toMatch(/^ApiCallError: GET u failed\n\s+at /);
    expect(error.cause).toBe(cause);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: "ApiCallError", message: "GET u failed", url: "u", method: "GET", isRetryable: true });
  });

  it("never keeps the configured key or a bearer token in message or body", () => {
    process.env.RUNPOD_API_KEY = "configured-key-0123456789";
    const error = new ApiCallError({
      message: "upstream said: configured-key-0123456789 / Authorization: Bearer abc.def-ghi",
      url: "u",
      method: "GET",
      status: 500,
      responseBody: '{"authorization":"Bearer configured-key-0123456789"}',
    });
    expect(`${error.message} ${error.responseBody} ${error.stack}`).not.toMatch(/configured-key|abc\.def-ghi/);
  });
});
