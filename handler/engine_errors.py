"""What an engine error means, and the messages a person can act on for it.

An engine error is one of three things, as vLLM 0.33 means them (vllm/exceptions.py,
vllm/v1/engine/exceptions.py, vllm/v1/engine/__init__.py's FinishReason):
- the request's fault: vLLM's VLLMClientError family (VLLMValidationError: a prompt longer than
  max_model_len, a bad structured-output spec). Fails the job as the user's error;
- a failure of this request only, worth retrying: vLLM's EngineGenerateError ("Recoverable"), its finish
  reason `error` ("retryable request-level internal error") and an `abort` we did not ask for
  (RetryableEngineError here). Fails the job, saying to send it again;
- the end of the engine, and so of the worker: EngineDeadError, or the GPU reported a CUDA fault or ran
  out of memory. A worker that stays up with a dead engine fails every later job, so for those the worker
  exits and RunPod starts a fresh one.
vLLM's classes are matched by name and module, never imported, so this runs without vllm or torch.
"""

from __future__ import annotations

from typing import Iterator, Optional

from worker_config import WorkerConfig

# vLLM 0.33's "the engine loop is gone" error (vllm.v1.engine.exceptions; V0's AsyncEngineDeadError no
# longer exists). Once raised, every later request fails too.
_ENGINE_DEAD_CLASSES = ("EngineDeadError",)
# The request's own fault (vllm.exceptions): VLLMValidationError and its siblings derive from it.
_CLIENT_ERROR_CLASSES = ("VLLMClientError",)
# Failures of one request that a retry may cure: EngineGenerateError ("Raised when a AsyncLLM.generate()
# fails. Recoverable.", vllm.v1.engine.exceptions), GenerationError and its RetryableRequestError (an
# internal error, HTTP 500/503 in vLLM's server), GracefulHTTPError (admission control: queue full).
_RETRYABLE_CLASSES = ("EngineGenerateError", "GenerationError", "GracefulHTTPError")


class RetryableEngineError(RuntimeError):
    """This request failed inside the engine, which is still fine: sending the request again may work."""

# What torch and the CUDA runtime put in the message of a fault that leaves the GPU context unusable.
_CUDA_FAULT_MARKERS = ("cuda error", "device-side assert", "illegal memory access", "cublas_status_",
                       "cudnn_status_", "nccl error", "uncorrectable ecc error")
_CUDA_OOM_MARKERS = ("cuda out of memory",)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it: vLLM wraps the engine's own failure in another exception."""
    seen = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class_names(error: BaseException, module_prefix: str) -> set:
    return {cls.__name__ for cls in type(error).__mro__ if cls.__module__.startswith(module_prefix)}


def classify_fatal(error: BaseException) -> Optional[str]:
    """What broke, in a few words, when `error` means the engine cannot serve again; None otherwise."""
    for link in _chain(error):
        if _class_names(link, "vllm") & set(_ENGINE_DEAD_CLASSES):
            return "the vLLM engine is dead"
        message = str(link).lower()
        if "OutOfMemoryError" in _class_names(link, "torch") or any(m in message for m in _CUDA_OOM_MARKERS):
            return "the GPU ran out of memory (CUDA out of memory)"
        if any(marker in message for marker in _CUDA_FAULT_MARKERS):
            return "the GPU reported a CUDA error"
    return None


def classify_client_error(error: BaseException) -> Optional[str]:
    """vLLM's own words when it refused the request itself (not the engine's fault); None otherwise."""
    if _class_names(error, "vllm") & set(_CLIENT_ERROR_CLASSES):
        return str(error).strip() or type(error).__name__
    return None


def request_refused_error(reason: str, max_model_len: int) -> str:
    """The job's error when vLLM refused the request: its reason, and the limit a prompt must fit."""
    return (f"input: vLLM refused the request: {reason}. The worker serves max_model_len={max_model_len} "
            "tokens (prompt plus max_tokens); shorten the messages or lower max_tokens")


def describe(error: BaseException) -> str:
    """`Type: first line`, following a wrapper with no message of its own (vLLM's EngineGenerateError)
    to what caused it."""
    text = str(error).strip().splitlines()
    if not (text and text[0]) and error.__cause__ is not None:
        return f"{type(error).__name__} caused by {describe(error.__cause__)}"
    return f"{type(error).__name__}: {text[0]}" if text and text[0] else type(error).__name__


def engine_error(error: BaseException) -> str:
    """The job's error for an engine failure that is neither the request's fault nor fatal."""
    retryable = isinstance(error, RetryableEngineError) or bool(
        _class_names(error, "vllm") & set(_RETRYABLE_CLASSES))
    if retryable:
        return f"engine: {describe(error)}. The engine is fine; send the request again"
    return f"engine: {describe(error)}"




def fatal_job_error(what: str, error: BaseException) -> str:
    """The failed job's error: what happened, and that sending the request again is the fix."""
    return (f"engine: {what} ({describe(error)}). This worker is exiting so RunPod replaces it "
            "with a fresh one; send the request again. If it keeps happening, read the worker's log "
            "for the GPU error and check MODEL_NAME, MAX_MODEL_LEN and GPU_MEMORY_UTILIZATION.")


def dead_worker_error(what: str) -> str:
    """For a job that reaches this worker after its engine died, before the process is gone."""
    return (f"engine: this worker's engine failed on an earlier job ({what}) and the worker is exiting "
            "so RunPod replaces it; send the request again.")


def start_failure_message(error: BaseException, config: WorkerConfig) -> str:
    """One log line for an engine that would not start, naming the settings that usually cause it."""
    settings = (f"ENGINE={config.engine} MODEL_NAME={config.model_name!r} "
                f"MAX_MODEL_LEN={config.max_model_len} "
                f"GPU_MEMORY_UTILIZATION={config.gpu_memory_utilization:g} "
                f"TENSOR_PARALLEL_SIZE={config.tensor_parallel_size}")
    what = classify_fatal(error)
    if isinstance(error, FileNotFoundError) or any(isinstance(link, FileNotFoundError) for link in _chain(error)):
        advice = ("the model was not found: check MODEL_NAME and that the network volume is mounted at "
                  "/runpod-volume and holds the model (or its Hugging Face cache)")
    elif what is not None and "out of memory" in what:
        advice = ("the model and its KV cache do not fit this GPU: lower MAX_MODEL_LEN, lower or raise "
                  "GPU_MEMORY_UTILIZATION (raise it if other processes do not share the GPU), pick a "
                  "smaller or quantized model, or a GPU with more memory")
    elif what is not None:
        advice = f"{what}: the GPU or its driver is faulty or incompatible; RunPod will retry on a fresh worker"
    else:
        advice = "check the settings above and the model's files; set LOG_LEVEL=DEBUG for the traceback"
    return f"engine start failed: {describe(error)}; {advice}. Settings: {settings}"
