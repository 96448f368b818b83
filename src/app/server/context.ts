// What every route needs, built once per app instance and passed down explicitly.
import type { WebEnv } from "../env";
import type { LLMProvider } from "../llm/types";
import type { MetaHumanPaths } from "../paths";
import type { RecentChats } from "./alerts";
import type { AppMetrics } from "./metrics";
import type { PasswordGate } from "./auth/passwords";
import type { RateLimiter } from "./rate-limit";
import type { AlertWatch } from "./alert-watch";
import type { SpendTracker } from "./spend";

export interface AppContext {
  env: WebEnv;
  paths: MetaHumanPaths;
  provider: LLMProvider;
  metrics: AppMetrics;
  recentChats: RecentChats;
  chatLimiter: RateLimiter;
  /** Caps password hashes running at once (logins). */
  passwordGate: PasswordGate;
  now: () => Date;
  /** Per-chat GPU spend and the month's spend from RunPod's billing API. */
  spend: SpendTracker;
  /** Delivers alerts to ALERT_WEBHOOK_URL; absent without one. */
  alertWatch?: AlertWatch;
  /** Processes beside the server that /api/health covers too (MetaHuman OS and the gateway, on the pod). */
  components?: HealthComponent[];
}

export interface HealthComponent {
  name: string;
  check(signal: AbortSignal): Promise<{ ok: boolean; detail?: string }>;
}

/** An error whose message is safe to show the client (4xx only). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}
