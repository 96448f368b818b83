"""Which engine errors are unrecoverable, and the messages a person can act on for them.

An engine error either fails one job (a bad request, a transient hiccup) or means the engine, and so the
worker, is finished: vLLM's engine loop died, or the GPU reported a CUDA fault. A worker that stays up
with a dead engine fails every later job, so for those the worker exits and RunPod starts a fresh one.
Classes are matched by name and module, never imported, so this runs without vllm or torch installed.
"""

from __future__ import annotations

from typing import Iterator, Optional

from worker_config import WorkerConfig

# vLLM's "the engine loop is gone" errors: AsyncEngineDeadError (vllm.engine.async_llm_engine, V0)
# and EngineDeadError (vllm.v1.engine.exceptions, V1). Once raised, every later request fails too.
_ENGINE_DEAD_CLASSES = ("AsyncEngineDeadError", "EngineDeadError")

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


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text and text[0] else type(error).__name__


def fatal_job_error(what: str, error: BaseException) -> str:
    """The failed job's error: what happened, and that sending the request again is the fix."""
    return (f"engine: {what} ({_describe(error)}). This worker is exiting so RunPod replaces it "
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
    return f"engine start failed: {_describe(error)}; {advice}. Settings: {settings}"
