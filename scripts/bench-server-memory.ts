// Memory of the web server (its own process, the image's command, mock provider):
// RSS (from /proc, the node process and any child) and V8's used heap (from /metrics) at idle, then the peak while
// 50 chats stream at once.
// scripts/bench.ts calls run() and prints the JSON; `tsx scripts/bench-server-memory.ts` runs it alone.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MetaHumanPaths } from "../src/app/paths";
import { setPassword } from "../src/app/server/auth/accounts";
import { SERVER_COMMAND } from "../src/app/server/command";
import { memorySample, printWhenRunAlone, watchPeak } from "./bench-memory-sample";

const CONCURRENT_CHATS = 50;
const WORDS_PER_ANSWER = 100;
const WORD_DELAY_MS = 20;

const MONITORING_TOKEN = randomBytes(24).toString("hex");

export async function run(): Promise<Record<string, unknown>> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-bench-"));
  const password = randomBytes(12).toString("hex");
  await setPassword(MetaHumanPaths.open(root), "bench", password);
  const repo = path.resolve(__dirname, "..");
  const [, ...args] = SERVER_COMMAND;
  const proc = spawn(process.execPath, args, {
    cwd: repo,
    env: {
      PATH: process.env.PATH ?? "",
      LLM_PROVIDER: "mock",
      MOCK_LLM_DELAY_MS: String(WORD_DELAY_MS),
      METAHUMAN_ROOT: root,
      SESSION_SECRET: randomBytes(32).toString("hex"),
      HOST: "127.0.0.1",
      PORT: "0",
      NODE_ENV: "production",
      CHAT_RATE_LIMIT_PER_MINUTE: "100000",
      MONITORING_TOKEN,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      proc.stdout!.on("data", (c) => {
        out += c;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.on("exit", (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    const login = await fetch(`${url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password }) });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    await new Promise((r) => setTimeout(r, 1000));
    const sample = () => memorySample(url, proc.pid!, MONITORING_TOKEN);
    const idle = await sample();

    const message = Array.from({ length: WORDS_PER_ANSWER - 2 }, (_, i) => `w${i}`).join(" ");
    const watch = watchPeak(sample, idle, 100);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_CHATS }, async () => {
        const response = await fetch(`${url}/api/chat`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie },
          body: JSON.stringify({ messages: [{ role: "user", content: message }] }),
        });
        const body = await response.text();
        return response.status === 200 && body.includes("event: done");
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const peak = await watch.stop();
    const after = await sample();
    return {
      name: "web server memory (mock provider)",
      goalMiB: { idle: 80, with50Streams: 150 },
      node: process.version,
      concurrentChats: CONCURRENT_CHATS,
      wordsPerAnswer: WORDS_PER_ANSWER,
      wordDelayMs: WORD_DELAY_MS,
      chatsCompleted: results.filter(Boolean).length,
      wallSeconds: Math.round(seconds * 100) / 100,
      idle,
      peakDuring50Streams: peak,
      afterStreams: after,
    };
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r)));
    fs.rmSync(root, { recursive: true, force: true });
  }
}

printWhenRunAlone(module, run);
