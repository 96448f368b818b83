"""vllm.inputs.TokensPrompt as in vLLM 0.33.0 (vllm/inputs/llm.py).

The real one is a TypedDict: calling it returns a plain dict, and its keys are checked only by type
checkers. The fake is a dict subclass that refuses keys vLLM does not define, and lets a test tell the
typed form from a hand-written dict (vLLM treats both alike at run time, as a raw prompt)."""

from typing import Any

from vllm._recorded import RECORDED

_KEYS = frozenset(RECORDED["tokens_prompt_keys"])


class TokensPrompt(dict):
    def __init__(self, **keys: Any) -> None:
        unknown = sorted(set(keys) - _KEYS)
        if unknown:
            raise TypeError(f"TokensPrompt has no key {unknown[0]!r}; vLLM 0.33 defines {sorted(_KEYS)}")
        if "prompt_token_ids" not in keys:
            raise TypeError("TokensPrompt needs prompt_token_ids")
        super().__init__(**keys)


__all__ = ["TokensPrompt"]
