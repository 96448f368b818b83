// Fault injection and request recording for the whole emulator. One global onRequest hook, so every
// route (REST v2, the job API, the worker protocol) can be made to answer 429 with Retry-After, a
// 5xx, or slowly — the failures a real client meets and must survive.
//   POST   /_emulator/faults    {method?, pathPattern, status?, detail?, retryAfterS?, delayMs?, times?}  → 201 {id}
//   GET    /_emulator/faults    the rules and how many times each has left
//   DELETE /_emulator/faults    remove every rule
//   GET    /_emulator/requests  recorded requests (method, path, body, status), oldest first
//   DELETE /_emulator/requests  forget them
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { guardDebugRoutes } from "./debug-guard";
import { jsonText } from "./json-text";

const faultRuleSchema = z
  .object({
    /** Only this method (any when absent). */
    method: z.string().toUpperCase().optional(),
    /** A regular expression matched against the path (no query string). */
    pathPattern: z.string().min(1).refine((source) => {
      try {
        new RegExp(source);
        return true;
      } catch {
        return false;
      }
    }, "must be a valid regular expression"),
    /** Answer with this status instead of handling the request; absent: only delay it. */
    status: z.number().int().min(400).max(599).optional(),
    /** Sent as `Retry-After` (seconds) with the status. */
    retryAfterS: z.number().int().min(0).optional(),
    /** Wait this long before answering (or before handling, when no status). */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /** The problem+json `detail` of the injected answer, e.g. RunPod's words for a start refused for lack of capacity. */
    detail: z.string().min(1).max(500).optional(),
    /** How many matching requests the rule applies to. */
    times: z.number().int().min(1).default(1),
  })
  .strict()
  .refine((rule) => rule.status !== undefined || rule.delayMs !== undefined, {
    message: "a fault needs a status, a delayMs, or both",
  });
type FaultRule = z.infer<typeof faultRuleSchema>;

interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
  status?: number;
  /** Whether an injected fault answered it. */
  faulted: boolean;
  at: string;
}

interface ActiveRule extends FaultRule {
  id: number;
  remaining: number;
  regex: RegExp;
}

const TITLES: Record<number, string> = {
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const RECORD_LIMIT = 5000;

declare module "fastify" {
  interface FastifyRequest {
    emulatorRecord?: RecordedRequest;
  }
}

function problem(status: number, detail: string, errors?: string[]) {
  return { title: TITLES[status] ?? "Error", status, detail, ...(errors ? { errors } : {}) };
}

/** Adds the global hooks (the /_emulator/ guard first) and the /_emulator/faults and /_emulator/requests routes to `app` itself. */
export function installFaults(app: FastifyInstance, apiKey: string): void {
  guardDebugRoutes(app, apiKey);
  const rules: ActiveRule[] = [];
  const recorded: RecordedRequest[] = [];
  let nextId = 1;

  const pathOf = (request: FastifyRequest) => request.url.split("?")[0] as string;

  app.addHook("onRequest", async (request, reply) => {
    const path = pathOf(request);
    if (path.startsWith("/_emulator/")) return;
    const record: RecordedRequest = { method: request.method, path, faulted: false, at: new Date().toISOString() };
    recorded.push(record);
    if (recorded.length > RECORD_LIMIT) recorded.shift();
    request.emulatorRecord = record;

    const rule = rules.find(
      (r) => r.remaining > 0 && (r.method === undefined || r.method === request.method) && r.regex.test(path),
    );
    if (rule === undefined) return;
    rule.remaining -= 1;
    if (rule.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, rule.delayMs));
    if (rule.status === undefined) return;
    record.faulted = true;
    if (rule.retryAfterS !== undefined) reply.header("retry-after", String(rule.retryAfterS));
    return reply
      .code(rule.status)
      .type("application/problem+json")
      .send(problem(rule.status, rule.detail ?? `fault injected by the emulator (rule ${rule.id})`));
  });

  app.addHook("preHandler", async (request) => {
    if (request.emulatorRecord && request.body !== undefined) request.emulatorRecord.body = request.body;
  });

  app.addHook("onResponse", async (request, reply) => {
    if (request.emulatorRecord) request.emulatorRecord.status = reply.statusCode;
  });

  app.post("/_emulator/faults", async (request, reply) => {
    const parsed = faultRuleSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => `$${i.path.length ? "." + i.path.join(".") : ""}: ${i.message}`);
      return reply.code(422).type("application/problem+json").send({ ...problem(422, "invalid fault rule", errors), title: "Unprocessable Entity" });
    }
    const rule: ActiveRule = { ...parsed.data, id: nextId++, remaining: parsed.data.times, regex: new RegExp(parsed.data.pathPattern) };
    rules.push(rule);
    return reply.code(201).send({ id: rule.id });
  });
  app.get("/_emulator/faults", async () => ({
    faults: rules.map(({ regex: _regex, ...rule }) => rule),
  }));
  app.delete("/_emulator/faults", async (_request, reply) => {
    rules.length = 0;
    return reply.code(204).send();
  });
  // Written without recursion: a recorded body nested 50,000 deep must not break this view (jsonText).
  app.get("/_emulator/requests", async (_request, reply) => reply.type("application/json").send(jsonText({ requests: recorded })));
  app.delete("/_emulator/requests", async (_request, reply) => {
    recorded.length = 0;
    return reply.code(204).send();
  });
}
