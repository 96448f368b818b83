// The real worker (handler/handler.py with ENGINE=echo) re-expressed for the in-process executor,
// so that a unit test against the emulator gets the answers a real SDK worker gives: the same input
// validation and error texts (handler/job_input.py), the same echo engine (handler/engines/echo.py:
// whitespace words are tokens, max_tokens is a word budget), the same stream batching and output
// shapes (handler/job_handler.py, handler/openai_format.py). test/workers/in-process-parity.test.ts
// runs a table of inputs through both and requires equal answers. Known gaps, from JSON itself: a
// job's `5.0` reads as the integer 5 here (Python keeps a float), and error texts print floats and
// strings the way Python's repr does only for ordinary values.

/** The worker's settings that change its answers (worker_config.py), with the worker's defaults. */
export interface EchoWorkerSettings {
  /** MODEL_NAME (echo engine default "echo"). */
  modelName?: string;
  /** MODEL_ALIASES. */
  modelAliases?: readonly string[];
  /** MAX_MODEL_LEN, default 8192. */
  maxModelLen?: number;
  /** DEFAULT_MAX_TOKENS, default 512. */
  defaultMaxTokens?: number;
  /** STREAM_BATCH_TOKENS, default 8. */
  streamBatchTokens?: number;
}

/** One job's yields (streamed one by one; the job's output is the list of all), or its error. */
export type EchoJobResult = { outputs: unknown[] } | { error: string };

type Message = { role: string; content: string };

interface ChatRequest {
  kind: "native" | "openai_chat" | "openai_models";
  messages: Message[];
  maxTokens: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  jsonOutput: boolean;
}

const ROLES = ["system", "user", "assistant"];
const SAMPLING_FIELDS = ["max_tokens", "temperature", "top_p", "stop", "seed"];
const EXTRA_SAMPLING_FIELDS = ["top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty"];
const WORKER_VLLM_FIELDS = ["prompt", "apply_chat_template", "use_openai_format", "max_batch_size", "min_batch_size", "batch_size_growth_factor"];
const NATIVE_FIELDS = ["messages", ...SAMPLING_FIELDS, "stream", "model", "format", "sampling_params", ...WORKER_VLLM_FIELDS];

/** worker-vllm's `prompt` (one user turn) or `messages`, exactly one; its template and batching fields checked. */
function promptOrMessages(data: Record<string, unknown>): ReturnType<typeof messagesOf> {
  if ("prompt" in data && "messages" in data) throw new InputError("input.prompt: given together with input.messages; give one of them (prompt: text, messages: a chat)");
  for (const name of ["apply_chat_template", "use_openai_format"]) {
    if (data[name] !== undefined && data[name] !== null && typeof data[name] !== "boolean") throw fail(`input.${name}`, data[name], "true or false");
  }
  for (const name of ["max_batch_size", "min_batch_size"]) {
    const v = data[name];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && typeof v === "number" && v >= 1 && v <= 10_000)) throw fail(`input.${name}`, v, "an integer from 1 to 10000");
  }
  const factor = data.batch_size_growth_factor;
  if (factor !== undefined && factor !== null && !(typeof factor === "number" && factor >= 1 && factor <= 100)) throw fail("input.batch_size_growth_factor", factor, "a number from 1 to 100");
  const low = data.min_batch_size;
  const high = data.max_batch_size;
  if (typeof low === "number" && typeof high === "number" && low > high) throw new InputError(`input.min_batch_size: ${pyRepr(low)} is not allowed; expected at most input.max_batch_size (${pyRepr(high)})`);
  if ("prompt" in data) {
    if (typeof data.prompt !== "string" || data.prompt === "") throw fail("input.prompt", data.prompt, "a non-empty string (give a chat as input.messages)");
    return messagesOf([{ role: "user", content: data.prompt }], "input.prompt", false);
  }
  if (!("messages" in data)) throw new InputError("input.messages: missing; expected a non-empty list of {role, content} messages (or input.prompt: text)");
  return messagesOf(data.messages, "input.messages", false);
}
const FORMATS = ["text", "json"];
const OPENAI_ROUTES = ["/v1/chat/completions", "/v1/models"];
const OPENAI_CHAT_FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "stream", "stream_options", "n", "user", "response_format"];
const RESPONSE_FORMATS = ["text", "json_object"];
const MAX_STOP_SEQUENCES = 16;

class InputError extends Error {}

// ---- Python's repr and json.dumps, for error texts and the echo's JSON answer ----------------------

function pyString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return quote + out + quote;
}

function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyString(k)}: ${pyRepr(v)}`).join(", ")}}`;
  }
  return String(value);
}

/** json.dumps(str) with Python's defaults (ensure_ascii). */
function pyJsonString(s: string): string {
  const named: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (named[ch]) out += named[ch];
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return `"${out}"`;
}

/** Python's str.split() with no argument: runs of whitespace, no empty parts. */
const words = (s: string): string[] => s.split(/\s+/).filter((w) => w.length > 0);

// ---- input validation (job_input.py) ---------------------------------------------------------------

function fail(field: string, value: unknown, allowed: string): InputError {
  let shown = pyRepr(value);
  if (shown.length > 80) shown = shown.slice(0, 77) + "...";
  return new InputError(`${field}: ${shown} is not allowed; expected ${allowed}`);
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
/** Python's falsiness for JSON values (`x or {}`). */
const pyFalsy = (v: unknown): boolean =>
  v === undefined || v === null || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function rejectUnknown(data: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(data)) {
    if (!allowed.includes(key)) throw new InputError(`${where}.${key}: unknown field; allowed fields are ${allowed.join(", ")}`);
  }
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (!isObject(value)) throw fail(field, value, "an object");
  return value;
}

function content(value: unknown, field: string, allowParts: boolean): string {
  if (typeof value === "string") return value;
  if (allowParts && Array.isArray(value)) {
    return value
      .map((part, index) => {
        if (!(isObject(part) && part.type === "text" && typeof part.text === "string")) {
          throw fail(`${field}[${index}]`, part, 'a text part {"type": "text", "text": "..."}');
        }
        return part.text;
      })
      .join("");
  }
  throw fail(field, value, allowParts ? "a string or a list of text parts" : "a string");
}

function messagesOf(value: unknown, field: string, openai: boolean): Message[] {
  if (!Array.isArray(value) || value.length === 0) throw fail(field, value, "a non-empty list of {role, content} messages");
  const allowedKeys = openai ? ["role", "content", "name"] : ["role", "content"];
  const roles = openai ? [...ROLES, "developer"] : ROLES;
  return value.map((item, index) => {
    const where = `${field}[${index}]`;
    const message = object(item, where);
    rejectUnknown(message, allowedKeys, where);
    if (!roles.includes(message.role as string)) throw fail(`${where}.role`, message.role, `one of ${roles.join(", ")}`);
    if (!("content" in message)) throw new InputError(`${where}.content: missing; expected a string`);
    const text = content(message.content, `${where}.content`, openai);
    return { role: message.role === "developer" ? "system" : (message.role as string), content: text };
  });
}

function maxTokensOf(value: unknown, field: string, maxModelLen: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isInt(value) || value < 1 || value > maxModelLen) throw fail(field, value, `an integer from 1 to ${maxModelLen} (max_model_len)`);
  return value;
}

function checkNumber(value: unknown, field: string, ok: (v: number) => boolean, allowed: string, integer = false): void {
  if (value === undefined || value === null) return;
  if (!(integer ? isInt(value) : isNumber(value)) || !ok(value as number)) throw fail(field, value, allowed);
}

const checks: Record<string, (value: unknown, field: string) => void> = {
  temperature: (v, f) => checkNumber(v, f, (n) => n >= 0 && n <= 2, "a number from 0 to 2"),
  top_p: (v, f) => checkNumber(v, f, (n) => n > 0 && n <= 1, "a number greater than 0 and at most 1"),
  stop: (v, f) => {
    if (v === undefined || v === null) return;
    const stops = typeof v === "string" ? [v] : v;
    if (!Array.isArray(stops) || stops.length < 1 || stops.length > MAX_STOP_SEQUENCES || !stops.every((s) => typeof s === "string" && s.length > 0)) {
      throw fail(f, v, `a non-empty string or a list of 1 to ${MAX_STOP_SEQUENCES} non-empty strings`);
    }
  },
  seed: (v, f) => checkNumber(v, f, (n) => n >= 0 && n < 2 ** 63, "an integer from 0 to 2^63-1", true),
  top_k: (v, f) => checkNumber(v, f, (n) => n >= -1 && n <= 2 ** 31 - 1, "an integer, -1 or 0 for all tokens, or a positive count", true),
  min_p: (v, f) => checkNumber(v, f, (n) => n >= 0 && n <= 1, "a number from 0 to 1"),
  presence_penalty: (v, f) => checkNumber(v, f, (n) => n >= -2 && n <= 2, "a number from -2 to 2"),
  frequency_penalty: (v, f) => checkNumber(v, f, (n) => n >= -2 && n <= 2, "a number from -2 to 2"),
  repetition_penalty: (v, f) => checkNumber(v, f, (n) => n >= 0.01 && n <= 10, "a number greater than 0 (1 means none), at most 10"),
};

function flag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw fail(field, value, "true or false");
  return value;
}

function checkModel(value: unknown, field: string, served: readonly string[]): void {
  if (value === undefined || value === null || served.length === 0) return;
  if (typeof value !== "string" || !served.includes(value)) {
    const names = served.map(pyString).join(", ");
    throw new InputError(`${field}: ${pyRepr(value)} is not served by this worker; it serves ${names} (set MODEL_ALIASES on the endpoint to accept other names)`);
  }
}

function parseNative(data: Record<string, unknown>, maxModelLen: number, served: readonly string[]): ChatRequest {
  rejectUnknown(data, NATIVE_FIELDS, "input");
  const messages = promptOrMessages(data);
  checkModel(data.model, "input.model", served);
  const format = data.format;
  if (format !== undefined && format !== null && !FORMATS.includes(format as string)) throw fail("input.format", format, `one of ${FORMATS.join(", ")}`);
  // Where each sampling setting came from: the top level or worker-vllm's sampling_params, never both.
  const settings = new Map<string, [string, unknown]>();
  for (const name of SAMPLING_FIELDS) if (data[name] !== undefined && data[name] !== null) settings.set(name, [`input.${name}`, data[name]]);
  if (data.sampling_params !== undefined && data.sampling_params !== null) {
    const nested = object(data.sampling_params, "input.sampling_params");
    rejectUnknown(nested, [...SAMPLING_FIELDS, ...EXTRA_SAMPLING_FIELDS], "input.sampling_params");
    for (const [name, value] of Object.entries(nested)) {
      if (value === undefined || value === null) continue;
      if (settings.has(name)) throw new InputError(`input.sampling_params.${name}: also given as input.${name}; give it once`);
      settings.set(name, [`input.sampling_params.${name}`, value]);
    }
  }
  const setting = (name: string): [string, unknown] => settings.get(name) ?? [`input.${name}`, undefined];
  const maxTokens = maxTokensOf(setting("max_tokens")[1], setting("max_tokens")[0], maxModelLen);
  for (const name of ["temperature", "top_p", "stop", "seed"]) checks[name]!(setting(name)[1], setting(name)[0]);
  const stream = flag(data.stream, "input.stream");
  for (const name of EXTRA_SAMPLING_FIELDS) if (settings.has(name)) checks[name]!(settings.get(name)![1], settings.get(name)![0]);
  return { kind: "native", messages, maxTokens, stream, includeUsage: false, jsonOutput: format === "json" };
}

function parseOpenAi(data: Record<string, unknown>, maxModelLen: number, served: readonly string[]): ChatRequest {
  rejectUnknown(data, ["openai_route", "openai_input"], "input");
  const route = data.openai_route;
  if (!OPENAI_ROUTES.includes(route as string)) throw fail("input.openai_route", route, `one of ${OPENAI_ROUTES.join(", ")}`);
  const body = object(route === "/v1/models" && !("openai_input" in data) ? {} : data.openai_input, "input.openai_input");
  if (route === "/v1/models") return { kind: "openai_models", messages: [], maxTokens: undefined, stream: false, includeUsage: false, jsonOutput: false };
  const where = "input.openai_input";
  rejectUnknown(body, OPENAI_CHAT_FIELDS, where);
  if (!("messages" in body)) throw new InputError(`${where}.messages: missing; expected a non-empty list of messages`);
  if (body.model !== undefined && body.model !== null && typeof body.model !== "string") throw fail(`${where}.model`, body.model, "a string");
  checkModel(body.model, `${where}.model`, served);
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw fail(`${where}.n`, body.n, "1 (one choice per request)");
  const options = object(pyFalsy(body.stream_options) ? {} : body.stream_options, `${where}.stream_options`);
  rejectUnknown(options, ["include_usage"], `${where}.stream_options`);
  const limitField = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const messages = messagesOf(body.messages, `${where}.messages`, true);
  const maxTokens = maxTokensOf(body[limitField], `${where}.${limitField}`, maxModelLen);
  for (const name of ["temperature", "top_p", "stop", "seed"]) checks[name]!(body[name], `${where}.${name}`);
  const stream = flag(body.stream, `${where}.stream`);
  const includeUsage = flag(options.include_usage, `${where}.stream_options.include_usage`);
  let jsonOutput = false;
  if (body.response_format !== undefined && body.response_format !== null) {
    const format = object(body.response_format, `${where}.response_format`);
    rejectUnknown(format, ["type"], `${where}.response_format`);
    if (!RESPONSE_FORMATS.includes(format.type as string)) throw fail(`${where}.response_format.type`, format.type, `one of ${RESPONSE_FORMATS.join(", ")}`);
    jsonOutput = format.type === "json_object";
  }
  return { kind: "openai_chat", messages, maxTokens, stream, includeUsage, jsonOutput };
}

function parseJobInput(raw: unknown, maxModelLen: number, served: readonly string[]): ChatRequest {
  const data = object(raw, "input");
  if ("openai_route" in data || "openai_input" in data) return parseOpenAi(data, maxModelLen, served);
  return parseNative(data, maxModelLen, served);
}

function resolveMaxTokens(request: ChatRequest, promptTokens: number, maxModelLen: number, defaultMaxTokens: number): number {
  const room = maxModelLen - promptTokens;
  const field = request.kind === "openai_chat" ? "input.openai_input" : "input";
  if (room < 1) {
    throw new InputError(`${field}.messages: the prompt is ${promptTokens} tokens, which leaves no room to answer within max_model_len=${maxModelLen}; shorten the messages`);
  }
  if (request.maxTokens === undefined) return Math.min(defaultMaxTokens, room);
  if (request.maxTokens > room) {
    throw new InputError(
      `${field}.max_tokens: ${request.maxTokens} is not allowed; the prompt is ${promptTokens} tokens and prompt plus max_tokens must be at most max_model_len=${maxModelLen}, so max_tokens may be at most ${room}`,
    );
  }
  return request.maxTokens;
}

// ---- the echo engine and the handler's batching and shapes (echo.py, job_handler.py) ---------------

interface Batch {
  text: string;
  /** Total so far. */
  completionTokens: number;
  finishReason?: string;
}

/** The echo's answer as the handler batches it: first text alone, then `batchTokens` words a batch. */
function echoBatches(messages: Message[], maxTokens: number, jsonOutput: boolean, batchTokens: number): Batch[] {
  const lastUser = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
  let tokens = words(lastUser);
  if (jsonOutput) tokens = `{"echo": ${pyJsonString(tokens.join(" "))}}`.split(" ");
  const budget = Math.min(tokens.length, maxTokens);
  const finishReason = tokens.length > maxTokens ? "length" : "stop";
  if (budget === 0) return [{ text: "", completionTokens: 0, finishReason }];
  const batches: Batch[] = [];
  let pending = "";
  let pendingTokens = 0;
  let first = true;
  for (let i = 0; i < budget; i++) {
    pending += i === 0 ? tokens[i]! : " " + tokens[i]!;
    pendingTokens += 1;
    if (i === budget - 1) {
      batches.push({ text: pending, completionTokens: i + 1, finishReason });
      break;
    }
    if ((first && pending) || pendingTokens >= batchTokens) {
      batches.push({ text: pending, completionTokens: i + 1 });
      pending = "";
      pendingTokens = 0;
      first = false;
    }
  }
  return batches;
}

const usage = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

function format(request: ChatRequest, model: string, jobId: string, promptTokens: number, batches: Batch[]): unknown[] {
  const last = batches.at(-1)!;
  const created = Math.floor(Date.now() / 1000);
  if (request.kind === "openai_chat") {
    const id = `chatcmpl-${jobId}`;
    if (!request.stream) {
      const text = batches.map((b) => b.text).join("");
      return [{ id, object: "chat.completion", created, model, choices: [{ index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: last.finishReason }], usage: usage(promptTokens, last.completionTokens) }];
    }
    const chunks: unknown[] = batches.map((b, i) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: b.text } : { content: b.text }, logprobs: null, finish_reason: b.finishReason ?? null }],
    }));
    if (request.includeUsage) chunks.push({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usage(promptTokens, last.completionTokens) });
    return chunks;
  }
  if (request.stream) {
    // worker-vllm's streamed chunk: the delta in choices[0].tokens, usage counting the tokens so far.
    return batches.map((b) => (b.finishReason === undefined
      ? { choices: [{ tokens: [b.text] }], usage: { input: promptTokens, output: b.completionTokens } }
      : { choices: [{ tokens: [b.text], finish_reason: b.finishReason }], usage: { input: promptTokens, output: b.completionTokens }, model }));
  }
  const text = batches.map((b) => b.text).join("");
  return [{ choices: [{ tokens: [text], finish_reason: last.finishReason }], usage: { input: promptTokens, output: last.completionTokens }, model }];
}

/** What the real echo worker yields for this job: its outputs in order, or the error that fails it. */
export function echoWorkerJob(job: { id: string; input: unknown }, settings: EchoWorkerSettings = {}): EchoJobResult {
  const model = settings.modelName ?? "echo";
  const served = [model, ...(settings.modelAliases ?? []).filter((a) => a !== model)];
  const maxModelLen = settings.maxModelLen ?? 8192;
  try {
    const request = parseJobInput(job.input, maxModelLen, served);
    if (request.kind === "openai_models") {
      const created = Math.floor(Date.now() / 1000);
      return { outputs: [{ object: "list", data: served.map((id) => ({ id, object: "model", created, owned_by: "metahuman" })) }] };
    }
    const promptTokens = request.messages.reduce((n, m) => n + words(m.content).length, 0);
    const maxTokens = resolveMaxTokens(request, promptTokens, maxModelLen, settings.defaultMaxTokens ?? 512);
    const batches = echoBatches(request.messages, maxTokens, request.jsonOutput, settings.streamBatchTokens ?? 8);
    return { outputs: format(request, model, job.id, promptTokens, batches) };
  } catch (err) {
    if (err instanceof InputError) return { error: err.message };
    throw err;
  }
}

/** How many engine tokens (words) an output carries, to pace it like the worker's ECHO_TOKEN_DELAY_MS. */
export function tokensIn(output: unknown, previousTotal: number): number {
  const o = output as { usage?: { completion_tokens?: number; output?: number }; text?: string; choices?: Array<{ delta?: { content?: string }; message?: { content?: string }; tokens?: string[] }> };
  const text = o.text ?? o.choices?.[0]?.delta?.content ?? o.choices?.[0]?.message?.content ?? o.choices?.[0]?.tokens?.join("") ?? "";
  const total = o.usage?.completion_tokens ?? o.usage?.output;
  return total !== undefined ? Math.max(0, total - previousTotal) : words(text).length;
}
