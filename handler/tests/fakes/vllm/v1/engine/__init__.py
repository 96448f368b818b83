"""vllm.v1.engine: the finish reasons of vLLM 0.33.0 (vllm/v1/engine/__init__.py, FinishReason):
stop (a stop string or EOS), length (max_tokens or max_model_len), abort (aborted), error (a retryable
request-level internal error, served as 500 by vLLM's server), repetition (a repetitive pattern)."""

from vllm._recorded import RECORDED

FINISH_REASON_STRINGS = tuple(RECORDED["finish_reasons"])
