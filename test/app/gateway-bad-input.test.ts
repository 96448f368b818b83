// The gateway's edge (issue 18 M2): MetaHuman OS forwards whatever a person typed; text holding a lone UTF-16
// surrogate would reach a worker that cannot send its answer back (the job hung until its execution timeout). The
// gateway refuses it by name, in OpenAI's error shape, before any job; what it does forward cannot nest (only
// messages' text and scalar settings leave it). Real HTTP on loopback; the provider records every call.
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InFlightCalls } from "../../src/app/gateway/in-flight";
import { gatewayRoutes } from "../../src/app/gateway/openai-routes";
import { createMockProvider } from "../../src/app/llm/mock";
import type { LLMMessage, LLMProvider } from "../../src/app/llm/types";

const TOKEN = "gateway-test-token-0123456789";
const MODEL = "echo/metahuman-test";

describe("the gateway refuses text a worker cannot send back", () => {
  let app: FastifyInstance;
  let url: string;
  const forwarded: LLMMessage[][] = [];

  beforeAll(async () => {
    const mock = createMockProvider();
    const provider: LLMProvider = { ...mock, stream: (messages, options) => { forwarded.push(messages); return mock.stream(messages, options); } };
    app = Fastify({ logger: false });
    await app.register(gatewayRoutes, { provider, model: MODEL, token: TOKEN, inFlight: new InFlightCalls(), maxTokens: 256, timeoutMs: 10_000 });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = async (body: string) => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body });
    return { status: res.status, body: (await res.json()) as { error?: { message: string; param: string | null; type: string } } };
  };
  const chat = (messages: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ model: MODEL, messages, ...extra });

  const refused: [string, string, string][] = [
    ["a lone high surrogate", chat([{ role: "user", content: "a\ud800b" }]), "messages.0.content"],
    ["a lone low surrogate after a system message", chat([{ role: "system", content: "be brief" }, { role: "user", content: "\udfff" }]), "messages.1.content"],
    ["a lone surrogate in a text part", chat([{ role: "user", content: [{ type: "text", text: "ok" }, { type: "text", text: "x\ud83d" }] }]), "messages.0.content.1.text"],
    ["a lone surrogate as a raw escape", `{"model":"${MODEL}","messages":[{"role":"user","content":"\\udc00"}]}`, "messages.0.content"],
  ];
  for (const [name, body, field] of refused) {
    it(`refuses ${name} by name, before any job`, async () => {
      const before = forwarded.length;
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.error?.param).toBe(field);
      expect(res.body.error?.message).toMatch(new RegExp(`^${field.replace(/\./g, "\\.")}: holds a lone UTF-16 surrogate \\(U\\+D[89A-F][0-9A-F]{2} at character \\d\\)`));
      expect(forwarded.length).toBe(before);
    });
  }

  it("forwards well-formed text (an emoji is a surrogate pair) and nothing nested", async () => {
    const deep = JSON.parse("[".repeat(1_000) + "]".repeat(1_000)) as unknown;
    const res = await post(chat([{ role: "user", content: "smile \ud83d\ude00", extra: deep }], { extra: deep }));
    expect(res.status).toBe(200);
    expect(forwarded.at(-1)).toEqual([{ role: "user", content: "smile 😀" }]);
    // Content that is itself nested is not text: refused by name.
    const nested = await post(chat([{ role: "user", content: deep }]));
    expect(nested.status).toBe(400);
    expect(nested.body.error?.param).toBe("messages.0.content");
  });
});
