// generateJSON: the model was asked for JSON; models still wrap it in prose or code
// fences now and then, so take the first JSON object or array out of the text.
import { LLMResponseError } from "./errors";

export function parseModelJson<T>(content: string): T {
  const trimmed = content.trim();
  try {
    return JSON.parse(trimmed) as T;
  } catch {
    // fall through to extraction
  }
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed);
  const candidate = fenced?.[1] ?? trimmed.slice(Math.max(0, Math.min(...["{", "["].map((c) => trimmed.indexOf(c)).filter((i) => i >= 0))));
  try {
    return JSON.parse(candidate.trim()) as T;
  } catch {
    throw new LLMResponseError(`the model was asked for JSON but answered: ${JSON.stringify(content.slice(0, 200))}`);
  }
}
