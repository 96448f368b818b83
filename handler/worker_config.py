"""The worker's settings, parsed once from the environment by a pure function.

Everything the worker reads from env goes through `load_worker_config`, so a bad value stops the worker
at start with the variable's name, its value and what is allowed, instead of failing the first job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple, TypeVar

ENGINES = ("vllm", "echo")
DEFAULT_HF_HUB_CACHE = "/runpod-volume/huggingface-cache/hub"

T = TypeVar("T")


class ConfigError(ValueError):
    """A worker environment variable is missing or has a value that is not allowed."""


@dataclass(frozen=True)
class WorkerConfig:
    engine: str
    """`vllm` (GPU, production) or `echo` (deterministic, for local runs and tests)."""
    model_name: str
    """A Hugging Face repo id (resolved in `hf_hub_cache`) or an absolute path on the network volume."""
    model_aliases: Tuple[str, ...]
    """Other names a job's `model` may give for the served model (MODEL_ALIASES, comma-separated): the
    names MetaHuman OS's model router sends, e.g. its etc/models.json entry for this model."""
    model_revision: Optional[str]
    tokenizer: Optional[str]
    hf_hub_cache: str
    max_model_len: int
    gpu_memory_utilization: float
    tensor_parallel_size: int
    dtype: str
    quantization: Optional[str]
    trust_remote_code: bool
    max_concurrency: int
    """How many jobs one worker runs at once (the SDK's concurrency_modifier returns it)."""
    default_max_tokens: int
    """Used when a job gives no max_tokens: vLLM's own default is 16 tokens, which truncates answers."""
    stream_batch_tokens: int
    """Tokens gathered per streamed yield: each yield is one HTTP post from the worker."""
    echo_token_delay_ms: float
    """Echo engine only: sleep between words, so streaming and cancel can be observed."""
    echo_fail_fatal_after: Optional[int] = None
    """Echo engine only, a test switch: after this many generations every later one raises a
    simulated CUDA error, so the unrecoverable-error path (job error, worker exit) can be tested."""
    echo_cached_model: Optional[str] = None
    """Echo engine only: the Hugging Face model id the echo worker stands in for (ECHO_CACHED_MODEL). It is looked
    up in hf_hub_cache at start as vLLM would and the snapshot found is logged, so a pushed model is visibly
    picked up; echo needs no weights, so a missing one is logged, not fatal."""

    @property
    def served_models(self) -> Tuple[str, ...]:
        """The names a job's `model` may give: the served model first, then its aliases."""
        return (self.model_name,) + tuple(a for a in self.model_aliases if a != self.model_name)


def _read(env: Mapping[str, str], name: str, default: Optional[str]) -> Optional[str]:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _number(env: Mapping[str, str], name: str, default: T, cast: Callable[[str], T],
            low: float, high: float, allowed: str) -> T:
    raw = _read(env, name, None)
    if raw is None:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not allowed: expected {allowed}") from None
    if not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"{name}={raw!r} is not allowed: expected {allowed}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _read(env, name, None)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not allowed: expected true or false")


def _names(env: Mapping[str, str], name: str) -> Tuple[str, ...]:
    raw = _read(env, name, None)
    if raw is None:
        return ()
    names = tuple(part.strip() for part in raw.split(","))
    if any(not part for part in names):
        raise ConfigError(f"{name}={raw!r} is not allowed: expected comma-separated non-empty names")
    return names


def load_worker_config(env: Mapping[str, str]) -> WorkerConfig:
    """Parses the worker's settings from an env mapping (os.environ in production, a dict in tests)."""
    engine = (_read(env, "ENGINE", "vllm") or "vllm").lower()
    if engine not in ENGINES:
        raise ConfigError(f"ENGINE={engine!r} is not allowed: expected one of {', '.join(ENGINES)}")

    model_name = _read(env, "MODEL_NAME", "echo" if engine == "echo" else None)
    if model_name is None:
        raise ConfigError(
            "MODEL_NAME is missing: set it to a Hugging Face repo id cached on the volume "
            f"(under {DEFAULT_HF_HUB_CACHE}) or to an absolute model path under /runpod-volume"
        )

    echo_fail_fatal_after = _number(env, "ECHO_FAIL_FATAL_AFTER", None, int, 0, 10_000_000,
                                    "a number of generations from 0 up (ENGINE=echo only, for tests)")
    if echo_fail_fatal_after is not None and engine != "echo":
        raise ConfigError(f"ECHO_FAIL_FATAL_AFTER={echo_fail_fatal_after!r} is not allowed with "
                          f"ENGINE={engine}: it is a test switch of the echo engine; unset it")

    return WorkerConfig(
        engine=engine,
        model_name=model_name,
        model_aliases=_names(env, "MODEL_ALIASES"),
        model_revision=_read(env, "MODEL_REVISION", None),
        tokenizer=_read(env, "TOKENIZER_NAME", None),
        hf_hub_cache=_read(env, "HF_HUB_CACHE", DEFAULT_HF_HUB_CACHE) or DEFAULT_HF_HUB_CACHE,
        max_model_len=_number(env, "MAX_MODEL_LEN", 8192, int, 16, 10_000_000,
                              "an integer from 16 up"),
        gpu_memory_utilization=_number(env, "GPU_MEMORY_UTILIZATION", 0.9, float, 0.05, 1.0,
                                       "a number from 0.05 to 1.0"),
        tensor_parallel_size=_number(env, "TENSOR_PARALLEL_SIZE", 1, int, 1, 64,
                                     "an integer from 1 to 64"),
        dtype=_read(env, "DTYPE", "auto") or "auto",
        quantization=_read(env, "QUANTIZATION", None),
        trust_remote_code=_flag(env, "TRUST_REMOTE_CODE", False),
        max_concurrency=_number(env, "MAX_CONCURRENCY", 30, int, 1, 1024,
                                "an integer from 1 to 1024"),
        default_max_tokens=_number(env, "DEFAULT_MAX_TOKENS", 512, int, 1, 10_000_000,
                                   "an integer from 1 up"),
        stream_batch_tokens=_number(env, "STREAM_BATCH_TOKENS", 8, int, 1, 4096,
                                    "an integer from 1 to 4096"),
        echo_token_delay_ms=_number(env, "ECHO_TOKEN_DELAY_MS", 0.0, float, 0.0, 60_000.0,
                                    "a number of milliseconds from 0 to 60000"),
        echo_fail_fatal_after=echo_fail_fatal_after,
        echo_cached_model=_read(env, "ECHO_CACHED_MODEL", None),
    )
