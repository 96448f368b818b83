// One factory for the dynamic providers: each resource file gives its input schema, its immutable and
// updatable inputs and its mapping to the REST v2 API; the factory does the rest the same way for all —
// check with messages a person can act on, diff (replace vs update), read that reports an outside
// delete, update of the changed inputs only, delete that treats 404 as done, and a client built at run
// time from the environment (the API key never enters state).
// Plain functions only, each reading only what is declared before it: Pulumi serializes the providers,
// and this module with them (test/runpod/provider-serialization.test.ts runs the result in plain node).
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { RunPodApiError } from "../errors";
import { createRunPodRestClient, type RunPodRestClient } from "../rest";

/** What Pulumi passes for a value not known until apply (preview of a new dependency). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What a resource file tells the factory. */
export interface ResourceSpec<Inputs extends object, Outputs extends object> {
  /** The resource's name in messages, e.g. "NetworkVolume". */
  kind: string;
  /** Validates and completes the inputs (defaults written in, so state and inputs compare equal). */
  inputSchema: () => z.ZodType<Inputs, z.ZodTypeDef, unknown>;
  /** Inputs that RunPod fixes at creation: a change replaces the resource. */
  immutable: readonly (keyof Inputs & string)[];
  /** Inputs that are PATCHed in place. */
  updatable: readonly (keyof Inputs & string)[];
  /** Further replace reasons, or a thrown refusal, beyond `immutable` (e.g. a volume never shrinks). */
  diffRules?: (olds: Outputs, news: Inputs) => string[];
  create: (client: RunPodRestClient, inputs: Inputs) => Promise<{ id: string; outs: Outputs }>;
  /** The resource as RunPod has it now, in the shape of the outputs; `previous` fills what RunPod does not say. */
  read: (client: RunPodRestClient, id: string, previous: Partial<Outputs>) => Promise<Outputs>;
  /** Sends the `changed` inputs (never empty) and returns the new outputs. */
  update: (client: RunPodRestClient, id: string, news: Inputs, changed: string[]) => Promise<Outputs>;
  remove: (client: RunPodRestClient, id: string) => Promise<void>;
}

export interface CheckFailure {
  property: string;
  reason: string;
}

/** The client, configured from RUNPOD_API_URL and RUNPOD_API_KEY of the process running the provider. */
export function clientFromEnv(): RunPodRestClient {
  return createRunPodRestClient({});
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(inputs: object, path: (string | number)[]): unknown {
  let value: unknown = inputs;
  for (const key of path) value = value === null || typeof value !== "object" ? undefined : Reflect.get(value, key);
  return value;
}

/**
 * Validates inputs with `schema`. Top-level values still unknown at preview are left alone (they are
 * checked again once known). Each failure names the input, the value given and what is allowed.
 */
export function checkInputs<Inputs extends object>(
  kind: string,
  schema: z.ZodType<Inputs, z.ZodTypeDef, unknown>,
  news: Inputs,
): pulumi.dynamic.CheckResult<Inputs> {
  const known: Record<string, unknown> = {};
  const unknownKeys: string[] = [];
  for (const [key, value] of Object.entries(news)) {
    if (key === "__provider") continue;
    if (value === UNKNOWN) unknownKeys.push(key);
    else known[key] = value;
  }
  const parsed = schema.safeParse(known);
  if (parsed.success) {
    const unknowns = Object.fromEntries(unknownKeys.map((key) => [key, UNKNOWN]));
    return { inputs: { ...parsed.data, ...unknowns }, failures: [] };
  }
  // Rules about values that are unknown now are checked once the values are known.
  const failures: CheckFailure[] = parsed.error.issues
    .filter((issue) => !unknownKeys.includes(String(issue.path[0])))
    .map((issue) => {
      const property = issue.path.join(".") || "(inputs)";
      const value = issue.path.length === 0 ? undefined : valueAt(known, issue.path);
      return { property, reason: `${kind} input ${property}: got ${describe(value)}; ${issue.message}` };
    });
  return { inputs: news, failures };
}

/** Order-insensitive for object keys, so `{a,b}` and `{b,a}` compare equal. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${stableJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The keys among `keys` whose values differ between the old state and the new inputs. */
export function changedKeys(olds: object, news: object, keys: readonly string[]): string[] {
  return keys.filter((key) => stableJson(Reflect.get(olds, key)) !== stableJson(Reflect.get(news, key)));
}

function isGone(error: unknown): boolean {
  return RunPodApiError.isInstance(error) && error.status === 404;
}

/** A typed Pulumi dynamic provider for one RunPod resource. */
export function defineResourceProvider<Inputs extends object, Outputs extends object>(
  spec: ResourceSpec<Inputs, Outputs>,
): pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  return {
    async check(_olds, news) {
      return checkInputs(spec.kind, spec.inputSchema(), news);
    },

    async diff(_id, olds, news) {
      const replaces = [...changedKeys(olds, news, spec.immutable), ...(spec.diffRules?.(olds, news) ?? [])];
      const changes = replaces.length > 0 || changedKeys(olds, news, spec.updatable).length > 0;
      return { changes, replaces, deleteBeforeReplace: false };
    },

    async create(inputs) {
      return spec.create(clientFromEnv(), inputs);
    },

    async read(id, props) {
      try {
        return { id, props: await spec.read(clientFromEnv(), id, props ?? {}) };
      } catch (error) {
        // Deleted outside Pulumi: an empty id tells Pulumi it is gone.
        if (isGone(error)) return { id: "" };
        throw error;
      }
    },

    async update(id, olds, news) {
      const changed = changedKeys(olds, news, spec.updatable);
      if (changed.length === 0) return { outs: olds };
      return { outs: await spec.update(clientFromEnv(), id, news, changed) };
    },

    async delete(id) {
      try {
        await spec.remove(clientFromEnv(), id);
      } catch (error) {
        // Someone already deleted it, which is what we wanted.
        if (!isGone(error)) throw error;
      }
    },
  };
}
