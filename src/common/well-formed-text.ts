// Text the serverless worker can send back. A lone UTF-16 surrogate ("a\ud800b") is valid JSON and a valid JavaScript
// string, but not Unicode: the RunPod SDK posts a job's result as UTF-8, fails on it, and the job stays IN_PROGRESS
// until its execution timeout. The edges that forward a person's text to a job refuse it here, by name.
import { z } from "zod";

/** With the `u` flag a surrogate pair is one code point, so only a lone surrogate is in category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Where the first lone surrogate is, as "U+D800 at character 1", or undefined for well-formed text. */
export function loneSurrogate(text: string): string | undefined {
  const match = LONE_SURROGATE.exec(text);
  if (!match) return undefined;
  return `U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} at character ${match.index}`;
}

/** A zod string that refuses lone surrogates; the issue's path names the field. */
export function wellFormedString<T extends z.ZodString>(schema: T) {
  return schema.superRefine((text, ctx) => {
    const where = loneSurrogate(text);
    if (where !== undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `holds a lone UTF-16 surrogate (${where}), which is not valid Unicode text; surrogates are allowed only in pairs`,
      });
    }
  });
}
