"""OpenAI wire shapes for RunPod's OpenAI route: chat.completion, chat.completion.chunk, model list."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence


def usage(prompt_tokens: int, completion_tokens: int) -> Dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def model_list(models: Sequence[str]) -> Dict[str, Any]:
    """The served model and its aliases, as vLLM's server lists its served model names."""
    created = int(time.time())
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "metahuman"} for model in models],
    }


def completion(completion_id: str, model: str, content: str, finish_reason: str,
               prompt_tokens: int, completion_tokens: int) -> Dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": None,
            "finish_reason": finish_reason,
        }],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chunk(completion_id: str, model: str, delta: Dict[str, str],
          finish_reason: Optional[str]) -> Dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk(completion_id: str, model: str, prompt_tokens: int,
                completion_tokens: int) -> Dict[str, Any]:
    """The extra last chunk OpenAI sends with `stream_options.include_usage`: usage, no choices."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": usage(prompt_tokens, completion_tokens),
    }
