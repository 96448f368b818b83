// What the three dynamic providers share: input checking with messages a person can act on, a
// client built at run time from the environment (the API key never enters state), and diff helpers.
// Plain functions only: Pulumi serializes the providers, and this module with them.
import type { z } from "zod";
import { isRunPodApiError } from "../errors";
import { createRunPodRestClient } from "../rest";

/** What Pulumi passes for a value not known until apply (preview of a new dependency). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface CheckFailure {
  property: string;
  reason: string;
}

/** The client, configured from RUNPOD_API_URL and RUNPOD_API_KEY of the process running the provider. */
export function clientFromEnv() {
  return createRunPodRestClient({});
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(inputs: Record<string, unknown>, path: (string | number)[]): unknown {
  let value: unknown = inputs;
  for (const key of path) value = value === null || typeof value !== "object" ? undefined : (value as Record<string, unknown>)[key];
  return value;
}

/**
 * Validates inputs with `schema`. Top-level values still unknown at preview are left alone (they are
 * checked again once known). Each failure names the input, the value given and what is allowed.
 */
export function checkInputs<T extends z.ZodTypeAny>(
  resourceKind: string,
  schema: T,
  news: Record<string, unknown>,
): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const known: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(news)) {
    if (key === "__provider" || value === UNKNOWN) continue;
    known[key] = value;
  }
  const unknownKeys = Object.keys(news).filter((key) => key !== "__provider" && news[key] === UNKNOWN);
  // Unknown values are not validated now: drop the rules for them by accepting anything there.
  const parsed = schema.safeParse(known);
  if (parsed.success) {
    const inputs: Record<string, unknown> = { ...(parsed.data as Record<string, unknown>) };
    for (const key of unknownKeys) inputs[key] = UNKNOWN;
    return { inputs, failures: [] };
  }
  const failures = parsed.error.issues
    .filter((issue: z.ZodIssue) => !unknownKeys.includes(String(issue.path[0])))
    .map((issue: z.ZodIssue) => {
      const property = issue.path.join(".") || "(inputs)";
      const value = issue.path.length === 0 ? undefined : valueAt(known, issue.path);
      return { property, reason: `${resourceKind} input ${property}: got ${describe(value)}; ${issue.message}` };
    });
  if (failures.length === 0) {
    // Every failure was about an unknown value: fine for now.
    return { inputs: news, failures: [] };
  }
  return { inputs: news, failures };
}

/** Order-insensitive for object keys, so `{a,b}` and `{b,a}` compare equal. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${stableJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The keys among `keys` whose values differ between the old state and the new inputs. */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((key) => stableJson(olds[key]) !== stableJson(news[key]));
}

export function isNotFoundError(error: unknown): boolean {
  return isRunPodApiError(error) && error.status === 404;
}

/**
 * `read`: the resource's current props, or "gone" (an empty id, which Pulumi reports as deleted outside
 * Pulumi) when RunPod answers 404.
 */
export async function readUnlessGone<T>(id: string, fetchProps: () => Promise<T>): Promise<{ id: string; props: T }> {
  try {
    return { id, props: await fetchProps() };
  } catch (error) {
    if (isNotFoundError(error)) return { id: "", props: {} as T };
    throw error;
  }
}

/** `delete`: a 404 means someone already deleted it, which is what we wanted. */
export async function deleteUnlessGone(remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!isNotFoundError(error)) throw error;
  }
}
