"""The production engine: vLLM 0.33's AsyncLLMEngine, with the model read from the network volume.

vLLM is imported inside functions so the echo engine and the tests run without it installed; the tests
run it against a strict fake recorded from vLLM 0.33.0's signatures (tests/fakes/vllm).
Finish reasons as vLLM means them (vllm/v1/engine/__init__.py, FinishReason): `stop`, `length` and
`repetition` end an answer; `error` is a retryable request-level internal error and `abort` means the
request was aborted (we abort only stopped jobs, which no longer read the stream): neither is an answer,
both fail the job as retryable (engine_errors.RetryableEngineError).
"""

from __future__ import annotations

import logging
import os
from typing import Any, AsyncIterator, List, Optional, Sequence

from worker_config import WorkerConfig

from engine_errors import RetryableEngineError

from .base import EngineDelta, GenerationParams, Message, PreparedPrompt

log = logging.getLogger(__name__)


def build_prompt_token_ids(tokenizer: Any, messages: Sequence[Message]) -> List[int]:
    """Renders the chat template and tokenizes it with exactly one BOS.

    Templates such as Llama 3's and Gemma's write the BOS text themselves; tokenizing that text with
    the tokenizer's default special tokens would add a second BOS, which degrades the answers. So the
    rendered text is tokenized without special tokens, and a BOS is added only when the template left it
    out and the tokenizer would normally add one.
    """
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    ids: List[int] = list(tokenizer.encode(text, add_special_tokens=False))
    bos_id: Optional[int] = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None or (ids and ids[0] == bos_id):
        return ids
    default_special = list(tokenizer.encode("", add_special_tokens=True))
    if default_special[:1] == [bos_id]:
        return [bos_id] + ids
    return ids


def resolve_model(config: WorkerConfig) -> str:
    """An absolute MODEL_NAME must exist (a volume that failed to mount must not look like a bad id)."""
    if os.path.isabs(config.model_name) and not os.path.isdir(config.model_name):
        raise FileNotFoundError(
            f"MODEL_NAME={config.model_name!r} is not a directory: is the network volume mounted "
            "at /runpod-volume and does it hold the model there?"
        )
    return config.model_name


ANSWER_FINISH_REASONS = ("stop", "length", "repetition")


def _finish_reason(raw: Optional[str], request_id: str) -> str:
    """An answer's finish reason; raises for the reasons that mean there is no answer."""
    if raw in ANSWER_FINISH_REASONS:
        return raw  # type: ignore[return-value]
    if raw == "error":
        raise RetryableEngineError(f"vLLM reported a retryable internal error for request {request_id} "
                                   "(finish_reason=error)")
    if raw == "abort":
        raise RetryableEngineError(f"vLLM aborted request {request_id} before it finished "
                                   "(finish_reason=abort)")
    raise RetryableEngineError(f"vLLM finished request {request_id} with an unknown reason {raw!r}")


class VllmEngine:
    def __init__(self, engine: Any, config: WorkerConfig) -> None:
        self._engine = engine
        self._tokenizer: Any = None
        self.model_name = config.model_name
        self.max_model_len = config.max_model_len

    @classmethod
    def start(cls, config: WorkerConfig) -> "VllmEngine":
        """Starts vLLM in this (main) process, before the SDK's loop: vLLM spawns its own workers."""
        # Hugging Face ids resolve in the volume's cache, so a cold start reads, never downloads.
        # Set before vLLM is imported: huggingface_hub reads it once, at import.
        os.environ.setdefault("HF_HUB_CACHE", config.hf_hub_cache)
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        args = AsyncEngineArgs(
            model=resolve_model(config),
            revision=config.model_revision,
            tokenizer=config.tokenizer,
            max_model_len=config.max_model_len,
            gpu_memory_utilization=config.gpu_memory_utilization,
            tensor_parallel_size=config.tensor_parallel_size,
            dtype=config.dtype,
            quantization=config.quantization,
            trust_remote_code=config.trust_remote_code,
            download_dir=config.hf_hub_cache,
        )
        log.info("vllm: loading %s (max_model_len=%d, gpu_memory_utilization=%.2f)",
                 config.model_name, config.max_model_len, config.gpu_memory_utilization)
        return cls(AsyncLLMEngine.from_engine_args(args), config)

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = self._engine.get_tokenizer()  # a plain method in vLLM 0.33
        return self._tokenizer

    async def prepare(self, messages: Sequence[Message], raw_prompt: Optional[str] = None) -> PreparedPrompt:
        if raw_prompt is not None:
            # A text prompt as vLLM itself tokenizes one (its default special tokens: one BOS where the model has it).
            ids = list(self._get_tokenizer().encode(raw_prompt, add_special_tokens=True))
            return PreparedPrompt(prompt_tokens=len(ids), payload=ids)
        ids = build_prompt_token_ids(self._get_tokenizer(), messages)
        return PreparedPrompt(prompt_tokens=len(ids), payload=ids)

    async def generate(self, prompt: PreparedPrompt, params: GenerationParams,
                       request_id: str) -> AsyncIterator[EngineDelta]:
        from vllm import SamplingParams, TokensPrompt
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        optional = {"top_p": params.top_p, "stop": params.stop, "seed": params.seed, **params.extra}
        if params.json_output:  # vLLM's structured output: the answer is one JSON object
            optional["structured_outputs"] = StructuredOutputsParams(json_object=True)
        sampling = SamplingParams(
            max_tokens=params.max_tokens,  # always: vLLM's default is 16 tokens
            temperature=params.temperature,
            output_kind=RequestOutputKind.DELTA,
            **{name: value for name, value in optional.items() if value is not None},
        )
        # Token ids, not text: vLLM would otherwise tokenize again and may add a second BOS. vLLM 0.33
        # still takes a TokensPrompt as a "raw prompt" (one deprecation warning per process); its
        # replacement, the engine's Renderer pipeline, renders chat templates itself and so would lose
        # the one-BOS rule above.
        async for output in self._engine.generate(TokensPrompt(prompt_token_ids=prompt.payload),
                                                  sampling, request_id):
            completion = output.outputs[0]
            yield EngineDelta(
                text=completion.text,
                completion_tokens=len(completion.token_ids),
                finish_reason=_finish_reason(completion.finish_reason, request_id) if output.finished else None,
            )

    async def abort(self, request_id: str) -> None:
        await self._engine.abort(request_id)
