// The one redactor: any text that came from an upstream (an answer's body, an error message, a log
// line about a call) passes through here before it reaches a message, a log, state or a page.
// Plain functions and literals only: Pulumi's closure serializer ships this module inside the dynamic
// providers, so nothing here may hold a key at module level (it would be written into state).

/** Environment variables whose values are keys or secrets, read when redacting (never cached). */
export const SECRET_ENV_NAMES = ["RUNPOD_API_KEY", "OPENAI_API_KEY", "SESSION_SECRET"] as const;

/** Longest excerpt of an upstream body kept in an error. */
export const MAX_BODY_EXCERPT = 500;

/**
 * Removes `Bearer …` credentials, RunPod-style (`rpa_…`) and OpenAI-style (`sk-…`) keys, every value of
 * `secrets` and of the SECRET_ENV_NAMES variables. Values shorter than 8 characters are not treated as
 * secrets (a one-letter "key" would blank out every word that contains it).
 */
export function redactSecrets(text: string, secrets: Iterable<string | undefined> = []): string {
  const values: string[] = [];
  for (const secret of secrets) if (typeof secret === "string" && secret.length >= 8) values.push(secret);
  for (const name of SECRET_ENV_NAMES) {
    const value = process.env[name];
    if (typeof value === "string" && value.length >= 8) values.push(value);
  }
  // Longest first, so a key that contains another is removed whole.
  values.sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join("[redacted]");
  return out
    .replace(/\b(Bearer|Basic)\s+[^\s"',;}\]]+/gi, "$1 [redacted]")
    .replace(/\brpa_[A-Za-z0-9]{8,}/g, "rpa_[redacted]")
    .replace(/\bsk-[A-Za-z0-9_-]{16,}/g, "sk-[redacted]");
}

/**
 * An upstream body as errors keep it: redacted first (cutting first could leave half a key that no
 * longer matches), then whitespace folded to single spaces and cut to `max` characters.
 */
export function bodyExcerpt(text: string, secrets: Iterable<string | undefined> = [], max: number = MAX_BODY_EXCERPT): string {
  const flat = redactSecrets(text, secrets).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The secret part of `Authorization`-style headers of a request, to redact from what came back. */
export function secretsInHeaders(headers: Record<string, string | undefined> | undefined): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== "string") continue;
    const lower = name.toLowerCase();
    if (lower === "authorization" || lower === "proxy-authorization") found.push(value.replace(/^\s*(Bearer|Basic)\s+/i, ""));
    else if (lower.includes("key") || lower.includes("token") || lower.includes("secret")) found.push(value);
  }
  return found;
}
