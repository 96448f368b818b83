"""The engine contract the job handler drives: prepare a prompt, stream deltas, abort on cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Protocol, Sequence

Message = Dict[str, str]
"""`{"role": "system"|"user"|"assistant", "content": str}`, already validated."""


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int
    temperature: float
    top_p: Optional[float] = None
    stop: Optional[List[str]] = None
    seed: Optional[int] = None
    json_output: bool = False
    """The answer must be one JSON value (vLLM: structured output, json_object)."""
    extra: Dict[str, Any] = field(default_factory=dict)
    """Further validated sampling settings by vLLM's SamplingParams names (top_k, min_p, penalties)."""


@dataclass(frozen=True)
class PreparedPrompt:
    """What an engine needs to run a prompt, and its length (checked against max_model_len first)."""

    prompt_tokens: int
    payload: Any = field(repr=False)


@dataclass(frozen=True)
class EngineDelta:
    """New text since the previous delta and how many tokens it holds; `finish_reason` only on the
    last one: "stop", "length", or "repetition" (vLLM stopped a repetitive pattern)."""

    text: str
    completion_tokens: int
    finish_reason: Optional[str] = None


class Engine(Protocol):
    model_name: str
    max_model_len: int

    async def prepare(self, messages: Sequence[Message], raw_prompt: Optional[str] = None) -> PreparedPrompt:
        """The chat through the model's template, or `raw_prompt` as it is when one is given."""
        ...

    def generate(self, prompt: PreparedPrompt, params: GenerationParams,
                 request_id: str) -> AsyncIterator[EngineDelta]: ...

    async def abort(self, request_id: str) -> None: ...
