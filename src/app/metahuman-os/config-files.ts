// MetaHuman OS is configured through its own files under METAHUMAN_ROOT, rewritten at every start from the stack's
// outputs. Only the keys this deployment owns change; every other setting the person made stays. A file that is
// not valid JSON is reported by name and left as it is (MetaHuman OS is then not started: it would run misconfigured).
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../../common/atomic-file";
import { metahumanOsLayout } from "../paths";

export interface MetahumanOsSettings {
  /** The gateway's OpenAI-compatible base on loopback, e.g. http://127.0.0.1:4323/v1. */
  gatewayBaseUrl: string;
  /** The model the endpoint serves; MetaHuman OS sends the name from models.json, so every chat role gets it. */
  model: string;
  /** "off": background agents paused (they wake a GPU worker while nobody chats); "on": the person's own settings. */
  agents: "off" | "on";
}

export class MetahumanConfigError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}; fix or remove the file (MetaHuman OS was not started, nothing was changed)`);
    this.name = "MetahumanConfigError";
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Providers whose models answer chats: they all go to the gateway. Embeddings and other tools keep theirs. */
const CHAT_PROVIDERS = new Set(["ollama", "vllm", "openai", "runpod_serverless", "remote"]);

function readJson(root: string, relative: string): Json | undefined {
  const file = path.join(root, relative);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MetahumanConfigError(relative, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MetahumanConfigError(relative, `is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(value)) throw new MetahumanConfigError(relative, "must hold a JSON object");
  return value;
}

/** The edits, one per file: each takes the file's current object (or undefined) and returns the new one. */
function edits(settings: MetahumanOsSettings): Array<[string, (current: Json | undefined) => Json | undefined]> {
  const models = (current: Json | undefined): Json | undefined => {
    if (!current || !isObject(current.models)) return current;
    const next: Json = {};
    for (const [id, entry] of Object.entries(current.models)) {
      next[id] = isObject(entry) && CHAT_PROVIDERS.has(String(entry.provider)) ? { ...entry, model: settings.model } : entry;
    }
    return { ...current, models: next };
  };
  return [
    ["etc/llm-backend.json", (c) => {
      const remote = isObject(c?.remote) ? c.remote : {};
      return { ...c, activeBackend: "remote", remote: { ...remote, provider: "openai", serverUrl: `${settings.gatewayBaseUrl}/chat/completions`, model: settings.model } };
    }],
    ["etc/models.json", models],
    // Guest usage of "system keys" with RUNPOD_API_KEY is a trap (the endpoint id is used as a URL); nobody is a guest here.
    ["etc/usage-policy.json", (c) => ({ ...c, allowGuestUsage: false })],
    // The local-llm lane serves every user one at a time with a 2 s gap: right for one local GPU, not for a remote endpoint.
    ["etc/queue.json", (c) => {
      if (!c) return c;
      const lanes = isObject(c.lanes) ? c.lanes : {};
      const local = isObject(lanes["local-llm"]) ? lanes["local-llm"] : {};
      return { ...c, lanes: { ...lanes, "local-llm": { ...local, maxConcurrent: 5, cooldownMs: 0 } } };
    }],
    ["etc/agents.json", (c) => {
      if (!c || settings.agents === "on") return c;
      const global = isObject(c.globalSettings) ? c.globalSettings : {};
      return { ...c, globalSettings: { ...global, pauseAll: true } };
    }],
    ["etc/active-operator.json", (c) => (c && settings.agents === "off" ? { ...c, autonomyMode: "reactive" } : c)],
  ];
}

/** The profiles' own models.json (copied from etc/ when a user registers, then read instead of it). */
function profileModelFiles(root: string): string[] {
  const profiles = metahumanOsLayout(root).profiles;
  let names: string[];
  try {
    names = fs.readdirSync(profiles);
  } catch {
    return [];
  }
  return names.filter((n) => fs.existsSync(path.join(profiles, n, "etc", "models.json"))).map((n) => path.posix.join("profiles", n, "etc", "models.json"));
}

/** MetaHuman OS's users (persona/users.json) whose profile folder exists. */
function usersWithProfiles(root: string): string[] {
  const layout = metahumanOsLayout(root);
  let users: unknown;
  try {
    users = readJson(root, path.relative(root, layout.usersFile))?.users;
  } catch (err) {
    // Its accounts are MetaHuman OS's to read and report; a broken file must not stop the pod over a profile's config.
    if (err instanceof MetahumanConfigError) return [];
    throw err;
  }
  if (!Array.isArray(users)) return [];
  return users
    .map((user) => (isObject(user) && typeof user.username === "string" ? user.username : ""))
    .filter((name) => name !== "" && name !== "." && name !== ".." && path.basename(name) === name)
    .filter((name) => fs.statSync(path.join(layout.profiles, name), { throwIfNoEntry: false })?.isDirectory() === true);
}

/** The operator settings with "Big Brother" off: every LLM call delegated to a `codex` CLI the pod does not have. */
const withoutBigBrother = (operator: Json | undefined): Json | undefined =>
  operator && isObject(operator.bigBrotherMode) ? { ...operator, bigBrotherMode: { ...operator.bigBrotherMode, enabled: false, delegateAll: false } } : operator;

/**
 * Writes the deployment's settings into MetaHuman OS's files; returns the files changed. Every file is read and
 * checked before the first is written, so a bad one leaves all of them as they were.
 */
export async function configureMetahumanOs(root: string, settings: MetahumanOsSettings): Promise<string[]> {
  const plan = edits(settings);
  const modelsEdit = plan.find(([file]) => file === "etc/models.json")![1];
  for (const file of profileModelFiles(root)) plan.push([file, modelsEdit]);
  // A user whose profile lacks these (a profile brought onto the volume from elsewhere, a file deleted) could not
  // chat: without etc/models.json every chat answered "I encountered an error"; without etc/operator.json MetaHuman
  // OS copies its app's template, whose "Big Brother" sends every LLM call to a `codex` CLI the pod lacks, with the
  // same answer (both measured). They get the root's models.json (as registration gives) and operator.json with
  // Big Brother off; a person's existing files are only updated as above.
  for (const user of usersWithProfiles(root)) {
    const etc = path.posix.join("profiles", user, "etc");
    if (!plan.some(([file]) => file === `${etc}/models.json`)) {
      plan.push([`${etc}/models.json`, (c) => (c === undefined ? modelsEdit(readJson(root, "etc/models.json")) : c)]);
    }
    plan.push([`${etc}/operator.json`, (c) => (c === undefined ? withoutBigBrother(readJson(root, "etc/operator.json")) : c)]);
  }
  const changes: Array<[string, string]> = [];
  for (const [file, edit] of plan) {
    const current = readJson(root, file);
    const next = edit(current);
    if (next === undefined || JSON.stringify(next) === JSON.stringify(current)) continue;
    changes.push([file, `${JSON.stringify(next, null, 2)}\n`]);
  }
  for (const [file, text] of changes) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    await writeFileAtomic(path.join(root, file), text, 0o644);
  }
  return changes.map(([file]) => file);
}
