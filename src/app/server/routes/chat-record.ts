// What a chat leaves on the volume: the exchange in the user's episodic memory (only when it was
// answered) and one audit line. The audit line never holds upstream text: an error is kept as its
// type and HTTP status only (an upstream body may echo a key).
import { randomUUID } from "node:crypto";
import { ApiCallError, MetaHumanError } from "../../../common/errors";
import type { LLMUsage } from "../../llm/types";
import { appendAudit, appendEpisodic, type MetaHumanPaths, type UserTree } from "../../paths";

export type ChatOutcome = "ok" | "error" | "aborted";

export interface ChatRecord {
  username: string;
  provider: string;
  model: string;
  outcome: ChatOutcome;
  startedAt: Date;
  durationMs: number;
  /** The user's last message and the whole answer. */
  message: string;
  response: string;
  usage?: LLMUsage;
  coldStartMs?: number;
  /** Why it failed, when outcome is "error". */
  error?: unknown;
}

/** An error as the audit keeps it: which kind, and the HTTP status when there was one. */
export function auditedError(error: unknown): { type: string; status?: number } {
  if (ApiCallError.isInstance(error)) return { type: error.name, ...(error.status !== undefined ? { status: error.status } : {}) };
  if (MetaHumanError.isInstance(error)) return { type: error.name };
  return { type: "unexpected" };
}

export async function recordChat(paths: MetaHumanPaths, tree: UserTree, chat: ChatRecord): Promise<void> {
  const timestamp = chat.startedAt.toISOString();
  if (chat.outcome === "ok") {
    await appendEpisodic(tree, {
      id: `evt-${randomUUID()}`,
      timestamp,
      type: "conversation",
      source: "web-chat",
      user: chat.username,
      message: chat.message,
      response: chat.response,
      model: chat.model,
      ...(chat.usage ? { usage: chat.usage } : {}),
    });
  }
  await appendAudit(paths.audit, {
    timestamp,
    event: "chat",
    user: chat.username,
    provider: chat.provider,
    model: chat.model,
    outcome: chat.outcome,
    durationMs: chat.durationMs,
    ...(chat.coldStartMs !== undefined ? { coldStartMs: chat.coldStartMs } : {}),
    ...(chat.usage ? { usage: chat.usage } : {}),
    ...(chat.outcome === "error" ? { error: auditedError(chat.error) } : {}),
  });
}
