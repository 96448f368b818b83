// The providers' errors, members of the one family in src/common/errors.ts. An HTTP failure (an answer
// that is not 2xx, or no answer at all) is an LLMApiError carrying url, status and the redacted body;
// anything else a backend does wrong is an LLMError. Aborts are never wrapped: the caller's own signal
// says whether it aborted. Test with `X.isInstance(error)`.
import { ApiCallError, MetaHumanError, errorMarker, type ApiCallErrorOptions } from "../../common/errors";

const llmMarker = errorMarker("llm");
const llmApiMarker = errorMarker("llm-api");
const llmResponseMarker = errorMarker("llm-response");

export class LLMError extends MetaHumanError {
  constructor(message: string, isRetryable = false, options: { cause?: unknown; name?: string } = {}) {
    super({ name: options.name ?? "LLMError", message, isRetryable, cause: options.cause });
    llmMarker.set(this);
  }

  static override isInstance(error: unknown): error is LLMError {
    return llmMarker.has(error);
  }
}

/** The backend answered with an HTTP error, or could not be reached at all (`status` undefined). */
export class LLMApiError extends ApiCallError {
  constructor(options: ApiCallErrorOptions) {
    super({ name: "LLMApiError", ...options });
    llmApiMarker.set(this);
  }

  static override isInstance(error: unknown): error is LLMApiError {
    return llmApiMarker.has(error);
  }
}

/** The backend answered, but not in the shape its protocol promises. */
export class LLMResponseError extends LLMError {
  constructor(message: string) {
    super(message, false, { name: "LLMResponseError" });
    llmResponseMarker.set(this);
  }

  static override isInstance(error: unknown): error is LLMResponseError {
    return llmResponseMarker.has(error);
  }
}
