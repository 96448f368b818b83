// The chat route's units: the words a failure becomes (by error class, never by name), what the audit
// keeps of an error, and a client that leaves before its answer starts.
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ApiCallError, MetaHumanError } from "../../src/common/errors";
import { LLMApiError, LLMResponseError } from "../../src/app/llm/errors";
import { createMockProvider } from "../../src/app/llm/mock";
import type { LLMProvider } from "../../src/app/llm/types";
import { dayOf } from "../../src/app/paths";
import { auditedError } from "../../src/app/server/routes/chat-record";
import { describeFailure } from "../../src/app/server/routes/chat";
import { ServerlessJobFailedError, ServerlessRateLimitError, ServerlessTimeoutError } from "../../src/runpod/job-api-errors";
import { login, startApp, type Running } from "./helpers";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const TOO_LONG = "The model took too long to answer. Please try again.";
const UNREACHABLE = "The language model cannot be reached right now. Please try again in a moment.";
const BUSY = "The model is busy or restarting. Please try again in a moment.";
const CANNOT = "The model could not answer this message.";

describe("describeFailure", () => {
  it("names each kind of failure in words, by its class", () => {
    const noAnswer = new LLMApiError({ message: "POST u failed before an answer: ECONNREFUSED", url: "u", method: "POST" });
    const ourTimeout = new ApiCallError({ message: "no answer within 100 ms", url: "u", method: "GET", timedOut: true });
    expect(describeFailure(new ServerlessTimeoutError("late", "deadline", "j", "IN_QUEUE"))).toEqual({ message: TOO_LONG, retryable: true });
    expect(describeFailure(ourTimeout)).toEqual({ message: TOO_LONG, retryable: true });
    expect(describeFailure(noAnswer)).toEqual({ message: UNREACHABLE, retryable: true });
    expect(describeFailure(new ServerlessRateLimitError({ message: "429", url: "u", method: "POST" }))).toEqual({ message: BUSY, retryable: true });
    expect(describeFailure(new LLMApiError({ message: "503", url: "u", method: "POST", status: 503 }))).toEqual({ message: BUSY, retryable: true });
    expect(describeFailure(new LLMApiError({ message: "400", url: "u", method: "POST", status: 400 }))).toEqual({ message: CANNOT, retryable: false });
    expect(describeFailure(new ServerlessJobFailedError("failed", "j", "FAILED", "boom"))).toEqual({ message: CANNOT, retryable: false });
    expect(describeFailure(new LLMResponseError("not a chunk"))).toEqual({ message: CANNOT, retryable: false });
  });

  it("an error that only looks like ours (same name, isRetryable) is not taken for one", () => {
    const lookAlike = Object.assign(new Error("x"), { name: "ServerlessTimeoutError", isRetryable: true });
    expect(describeFailure(lookAlike)).toEqual({ message: CANNOT, retryable: false });
    expect(describeFailure("a string")).toEqual({ message: CANNOT, retryable: false });
  });
});

describe("auditedError", () => {
  it("keeps the error's type and status only, never its text", () => {
    const echoed = new LLMApiError({ message: "answered 500: secret text", url: "u", method: "POST", status: 500, responseBody: "secret text" });
    expect(auditedError(echoed)).toEqual({ type: "LLMApiError", status: 500 });
    expect(auditedError(new MetaHumanError({ name: "LLMError", message: "secret text" }))).toEqual({ type: "LLMError" });
    expect(auditedError(new Error("secret text"))).toEqual({ type: "unexpected" });
  });
});

describe("a client that leaves early", () => {
  it("aborts the generation when it leaves before the answer starts (during disk work), and nothing is stored as answered", async () => {
    const ended: string[] = [];
    const mock = createMockProvider({ delayMs: 30 });
    const provider: LLMProvider = {
      ...mock,
      async *stream(messages, options) {
        try {
          yield* mock.stream(messages, options);
          ended.push("finished");
        } catch (err) {
          ended.push(options?.signal?.aborted ? "aborted" : "failed");
          throw err;
        }
      },
    };
    running = await startApp({ provider });
    const { cookie } = await login(running.url);
    // Slow disk work before the stream starts (a network volume can take this long): the client leaves during it.
    const paths = running.paths;
    const ensureUser = paths.ensureUser.bind(paths);
    let preparing = false;
    paths.ensureUser = async (username) => {
      preparing = true;
      await new Promise((r) => setTimeout(r, 300));
      return ensureUser(username);
    };
    const { port } = new URL(running.url);
    const body = JSON.stringify({ messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }] });
    // Send the whole request, then close the socket while the server is still preparing.
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.on("connect", resolve));
    socket.write(
      `POST /api/chat HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncookie: ${cookie}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    while (!preparing) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    const auditFile = path.join(running.root, "logs", "audit", `${dayOf(new Date())}.jsonl`);
    // The audit log is appended to: wait for a whole line (the file can exist before its first line is written).
    const until = Date.now() + 10_000;
    const wholeLines = () => (fs.existsSync(auditFile) ? fs.readFileSync(auditFile, "utf8") : "").split("\n").slice(0, -1);
    while (wholeLines().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const audit = wholeLines().map((line) => JSON.parse(line));
    expect(audit.filter((line) => line.event === "chat")).toMatchObject([{ outcome: "aborted" }]);
    expect(ended).toEqual(["aborted"]);
    const episodicDir = path.join(running.root, "users", "ada", "memory", "episodic");
    const stored = fs.existsSync(episodicDir) ? fs.readdirSync(episodicDir, { recursive: true }).filter((f) => String(f).endsWith(".jsonl")) : [];
    expect(stored).toEqual([]);
  });
});
