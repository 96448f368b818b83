// The web pod's environment: one zod schema, read once at start. A missing or bad
// variable stops the server with a message that names it; secrets are never echoed,
// not even inside zod's own messages (we build every message ourselves).
// scripts/write-env validates .env.production with this same schema.
import * as path from "node:path";
import * as dotenv from "dotenv";
import { z } from "zod";
import { PROVIDER_NAMES } from "./llm/types";

/** Variables whose values must never appear in a message or a log line. */
export const SECRET_VARIABLES = ["RUNPOD_API_KEY", "SESSION_SECRET", "OPENAI_API_KEY", "MONITORING_TOKEN", "ALERT_WEBHOOK_URL"] as const;

export const DEFAULT_PORT = 4321;

// dotenv turns `FOO=` into "": that means "not set", so defaults and "required" apply.
const optionalText = z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.string().optional());

const httpUrl = (fallback: string) =>
  z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z
      .string()
      .default(fallback)
      .refine((v) => {
        try {
          const u = new URL(v);
          return u.protocol === "http:" || u.protocol === "https:";
        } catch {
          return false;
        }
      }, "must be an http(s) URL")
      .transform((v) => v.replace(/\/+$/, "")),
  );

const baseShape = z.object({
  LLM_PROVIDER: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.enum(PROVIDER_NAMES, {
      required_error: `is required (one of ${PROVIDER_NAMES.join(", ")})`,
      invalid_type_error: `must be one of ${PROVIDER_NAMES.join(", ")}`,
    }),
  ),
  LLM_MODEL: optionalText,
  METAHUMAN_ROOT: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z
      .string({ required_error: "is required (the volume's MetaHuman folder, e.g. /runpod-volume/metahuman)" })
      .refine((v) => path.isAbsolute(v), "must be an absolute path"),
  ),
  OLLAMA_MODELS: optionalText,
  RUNPOD_API_KEY: optionalText,
  RUNPOD_ENDPOINT_ID: optionalText.refine(
    (v) => v === undefined || /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(v),
    "must be a RunPod endpoint id (letters, digits, '-' or '_', at most 64)",
  ),
  RUNPOD_SERVERLESS_URL: httpUrl("https://api.runpod.ai/v2"),
  OLLAMA_URL: httpUrl("http://127.0.0.1:11434"),
  OPENAI_BASE_URL: httpUrl("https://api.openai.com/v1"),
  OPENAI_API_KEY: optionalText,
  HOST: z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.string().default("0.0.0.0")),
  PORT: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce
      .number({ invalid_type_error: "must be a whole number from 0 to 65535" })
      .int("must be a whole number from 0 to 65535")
      .min(0, "must be a whole number from 0 to 65535")
      .max(65535, "must be a whole number from 0 to 65535")
      .default(DEFAULT_PORT),
  ),
  NODE_ENV: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.enum(["development", "production", "test"]).default("development"),
  ),
  SESSION_SECRET: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z
      .string({ required_error: "is required (at least 32 random characters, e.g. `openssl rand -hex 32`)" })
      .min(32, "must be at least 32 characters long"),
  ),
  /** Chats per user per minute. */
  CHAT_RATE_LIMIT_PER_MINUTE: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int().min(1, "must be a whole number of at least 1").default(20),
  ),
  /**
   * How many reverse proxies in front of the pod append to X-Forwarded-For (0: none, use the
   * socket's address). Only then does the client's address come from that header: a client
   * cannot choose its own address to dodge the login limit. Unset, it is RUNPOD_PROXY_HOPS inside
   * a RunPod pod (RUNPOD_POD_ID set) and 0 elsewhere (see parseWebEnv).
   */
  TRUST_PROXY_HOPS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce
      .number({ invalid_type_error: "must be a whole number from 0 to 5" })
      .int("must be a whole number from 0 to 5")
      .min(0, "must be a whole number from 0 to 5")
      .max(5, "must be a whole number from 0 to 5")
      .default(0),
  ),
  /** Login attempts per client address per minute. */
  LOGIN_RATE_LIMIT_PER_MINUTE: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int("must be a whole number from 1 to 1000").min(1, "must be a whole number from 1 to 1000").max(1000, "must be a whole number from 1 to 1000").default(10),
  ),
  /** Login attempts per username per 15 minutes, from any address. */
  LOGIN_ACCOUNT_LIMIT_PER_15_MINUTES: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int("must be a whole number from 1 to 1000").min(1, "must be a whole number from 1 to 1000").max(1000, "must be a whole number from 1 to 1000").default(30),
  ),
  /** Bearer token that unlocks /metrics and the details of /api/health (monitoring). */
  MONITORING_TOKEN: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.string().min(32, "must be at least 32 characters long").regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces").optional(),
  ),
  /** Users whose session also unlocks /metrics and the health details: comma-separated usernames. */
  ADMIN_USERS: z.preprocess(
    (v) => (typeof v === "string" ? (v.trim() === "" ? [] : v.split(",").map((s) => s.trim()).filter(Boolean)) : v ?? []),
    z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "must be comma-separated usernames (letters, digits, '_' or '-')")),
  ),
  /** Serverless GPU rate the stack was deployed with (USD per second per worker): turns job times into dollars per chat. */
  GPU_USD_PER_SECOND: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number({ invalid_type_error: "must be a number of USD per second" }).min(0, "must be a number of USD per second, 0 or more").optional(),
  ),
  /** metahuman:budgetMonthlyUsd: the month's projected spend above it raises the budget alert. */
  BUDGET_MONTHLY_USD: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number({ invalid_type_error: "must be a number of US dollars" }).positive("must be a positive number of US dollars").optional(),
  ),
  /** RunPod's management API (billing reads for the spend view); the emulator's address locally. */
  RUNPOD_API_URL: httpUrl("https://api.runpod.io"),
  /** Set by RunPod inside a pod: the web pod's own id (its billing). */
  RUNPOD_POD_ID: optionalText,
  /** Where alerts are POSTed as JSON, once per alert episode (ntfy, Slack or Discord webhook URL). A secret: such URLs carry a token. */
  ALERT_WEBHOOK_URL: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.string().refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === "http:" || u.protocol === "https:";
      } catch {
        return false;
      }
    }, "must be an http(s) URL").optional(),
  ),
  /** On SIGTERM: how long open chats may go on before their jobs are cancelled (new chats get 503 at once). */
  SHUTDOWN_GRACE_MS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int("must be a whole number of milliseconds").min(0, "must be a whole number of milliseconds").max(60_000, "must be at most 60000").default(5_000),
  ),
  /** The built MetaHuman OS in the image (scripts/metahuman-os/build.sh); set, the pod runs it behind the front door. */
  METAHUMAN_OS_DIR: optionalText.refine((v) => v === undefined || path.isAbsolute(v), "must be an absolute path"),
  /** MetaHuman OS's own server, on 127.0.0.1 only (the front door is the way in). */
  METAHUMAN_OS_PORT: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number({ invalid_type_error: "must be a whole number from 1 to 65535" }).int("must be a whole number from 1 to 65535").min(1, "must be a whole number from 1 to 65535").max(65535, "must be a whole number from 1 to 65535").default(4322),
  ),
  /** The OpenAI-compatible gateway MetaHuman OS calls, on 127.0.0.1 only. */
  GATEWAY_PORT: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number({ invalid_type_error: "must be a whole number from 1 to 65535" }).int("must be a whole number from 1 to 65535").min(1, "must be a whole number from 1 to 65535").max(65535, "must be a whole number from 1 to 65535").default(4323),
  ),
  /** MetaHuman OS's background agents: "off" pauses them (each batch wakes a billed GPU worker while nobody chats). */
  METAHUMAN_AGENTS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.enum(["off", "on"]).default("off"),
  ),
  /** Most tokens one LLM call through the gateway may ask for. */
  GATEWAY_MAX_TOKENS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int("must be a whole number from 16 to 32768").min(16, "must be a whole number from 16 to 32768").max(32768, "must be a whole number from 16 to 32768").default(2048),
  ),
  /** Deadline of one LLM call through the gateway (queue and cold start included), in milliseconds. */
  GATEWAY_TIMEOUT_MS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int("must be a whole number of milliseconds").min(1_000, "must be at least 1000").max(3_600_000, "must be at most 3600000").default(300_000),
  ),
  /** LLM_PROVIDER=mock only: milliseconds between streamed words (demos, the memory bench). */
  MOCK_LLM_DELAY_MS: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int().min(0, "must be a whole number of milliseconds").max(60_000, "must be at most 60000").default(0),
  ),
});

/** The web pod's variables; which ones are required depends on LLM_PROVIDER. */
export const webEnvSchema = baseShape.superRefine((env, ctx) => {
  const need = (name: keyof typeof env, why: string) => {
    if (env[name] === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `is required ${why}` });
  };
  switch (env.LLM_PROVIDER) {
    case "runpod_serverless":
      need("RUNPOD_API_KEY", "when LLM_PROVIDER=runpod_serverless");
      need("RUNPOD_ENDPOINT_ID", "when LLM_PROVIDER=runpod_serverless");
      break;
    case "ollama":
      need("LLM_MODEL", "when LLM_PROVIDER=ollama (e.g. llama3.1:8b)");
      break;
    case "openai":
      need("LLM_MODEL", "when LLM_PROVIDER=openai");
      // Self-hosted OpenAI-compatible servers often need no key; OpenAI itself does.
      if (new URL(env.OPENAI_BASE_URL).hostname === "api.openai.com") need("OPENAI_API_KEY", "when OPENAI_BASE_URL is api.openai.com");
      break;
    case "mock":
      break;
  }
});

export type WebEnv = z.output<typeof webEnvSchema>;

export class EnvError extends Error {
  constructor(public readonly problems: string[]) {
    super(`The web pod's environment is not valid:\n  - ${problems.join("\n  - ")}`);
    this.name = "EnvError";
  }
}

/** Whether a variable is one of SECRET_VARIABLES. */
export const isSecret = (name: string) => (SECRET_VARIABLES as readonly string[]).includes(name);

function describe(issue: z.ZodIssue, raw: Record<string, string | undefined>): string {
  const name = String(issue.path[0] ?? "(environment)");
  const value = raw[name];
  let message = issue.message;
  if (issue.code === z.ZodIssueCode.invalid_enum_value) message = `must be one of ${issue.options.join(", ")}`;
  if (issue.code === z.ZodIssueCode.invalid_type && value === undefined) message = message.startsWith("is required") ? message : "is required";
  // Only non-secret values are quoted back; a secret is described by its length at most.
  const shown = value === undefined || value.trim() === "" ? "" : isSecret(name) ? "" : ` (got ${JSON.stringify(value.slice(0, 200))})`;
  return `${name} ${message}${shown}`;
}

/**
 * TRUST_PROXY_HOPS inside a RunPod pod. RunPod documents its HTTP proxy (https://{podId}-{port}.proxy.runpod.net)
 * as User -> Cloudflare -> RunPod load balancer -> pod; Cloudflare appends the address that connected to
 * it to X-Forwarded-For. So the socket is RunPod's load balancer, shared by every client, and the last
 * entry of X-Forwarded-For was written by a proxy, never by the client: trusting one hop takes it. (If
 * RunPod's balancer ever appends Cloudflare's address too, that entry is still a proxy's, not one a
 * client can choose; the login limits hold for a shared address either way.)
 */
export const RUNPOD_PROXY_HOPS = 1;

/** Validates an environment mapping. Throws EnvError naming every bad variable. */
export function parseWebEnv(raw: Record<string, string | undefined>): WebEnv {
  const hopsUnset = raw.TRUST_PROXY_HOPS === undefined || raw.TRUST_PROXY_HOPS.trim() === "";
  const inRunPodPod = raw.RUNPOD_POD_ID !== undefined && raw.RUNPOD_POD_ID.trim() !== "";
  if (hopsUnset && inRunPodPod) raw = { ...raw, TRUST_PROXY_HOPS: String(RUNPOD_PROXY_HOPS) };
  const result = webEnvSchema.safeParse(raw);
  if (!result.success) throw new EnvError(result.error.issues.map((i) => describe(i, raw)));
  return result.data;
}

export interface LoadWebEnvOptions {
  /** The process environment; defaults to process.env. It wins over the file. */
  env?: Record<string, string | undefined>;
  /** A dotenv file to read first; defaults to `.env` in the working directory, if present. */
  dotenvPath?: string;
}

/** dotenv + zod: reads the file without touching process.env, then validates. */
export function loadWebEnv(options: LoadWebEnvOptions = {}): WebEnv {
  const fromFile: Record<string, string> = {};
  dotenv.config({ path: options.dotenvPath ?? ".env", processEnv: fromFile, quiet: true } as dotenv.DotenvConfigOptions);
  return parseWebEnv({ ...fromFile, ...(options.env ?? process.env) });
}
