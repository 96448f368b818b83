"""The production engine: vLLM's AsyncLLMEngine, with the model read from the network volume.

vLLM is imported inside functions so the echo engine and the tests run without it installed.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any, AsyncIterator, List, Optional, Sequence

from worker_config import WorkerConfig

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


def _finish_reason(raw: Optional[str]) -> Optional[str]:
    if raw is None:
        return None
    return "length" if raw == "length" else "stop"


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

    async def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            # get_tokenizer() is a coroutine in older vLLM releases and a plain method in newer ones.
            tokenizer = self._engine.get_tokenizer()
            self._tokenizer = await tokenizer if inspect.isawaitable(tokenizer) else tokenizer
        return self._tokenizer

    async def prepare(self, messages: Sequence[Message]) -> PreparedPrompt:
        ids = build_prompt_token_ids(await self._get_tokenizer(), messages)
        return PreparedPrompt(prompt_tokens=len(ids), payload=ids)

    async def generate(self, prompt: PreparedPrompt, params: GenerationParams,
                       request_id: str) -> AsyncIterator[EngineDelta]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        optional = {"top_p": params.top_p, "stop": params.stop, "seed": params.seed}
        sampling = SamplingParams(
            max_tokens=params.max_tokens,  # always: vLLM's default is 16 tokens
            temperature=params.temperature,
            output_kind=RequestOutputKind.DELTA,
            **{name: value for name, value in optional.items() if value is not None},
        )
        # Token ids, not text: vLLM would otherwise tokenize again and may add a second BOS.
        async for output in self._engine.generate({"prompt_token_ids": prompt.payload},
                                                  sampling, request_id):
            completion = output.outputs[0]
            yield EngineDelta(
                text=completion.text,
                completion_tokens=len(completion.token_ids),
                finish_reason=_finish_reason(completion.finish_reason) if output.finished else None,
            )

    async def abort(self, request_id: str) -> None:
        await self._engine.abort(request_id)
