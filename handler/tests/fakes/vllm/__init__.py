"""A test double of the few vLLM names the worker uses; installed on sys.path by tests only.

It records what reaches SamplingParams, AsyncEngineArgs, generate and abort, and streams a scripted
reply as DELTA outputs, one token per output. SCRIPT can make it fail like a real engine:
`start_error` is raised by from_engine_args; `fail_with` is raised after `fail_after` tokens of a
generate (an engine-dead error there also sets `dead`); `dead` makes generate, get_tokenizer and abort
raise EngineDeadError, as a dead vLLM engine does for every call.
"""

import asyncio
from types import SimpleNamespace
from typing import Any, Dict, List

from .sampling_params import RequestOutputKind, SamplingParams

__all__ = ["AsyncEngineArgs", "AsyncLLMEngine", "SamplingParams", "RequestOutputKind", "RECORD"]

RECORD: Dict[str, List[Any]] = {"engine_args": [], "generate": [], "abort": [], "sampling": []}
SCRIPT: Dict[str, Any] = {"tokens": ["Hello", ",", " world"], "delay_s": 0.0}
DEFAULT_SCRIPT = dict(SCRIPT, start_error=None, fail_after=0, fail_with=None, dead=False)
SCRIPT.update(DEFAULT_SCRIPT)


def _raise_if_dead() -> None:
    if SCRIPT["dead"]:
        from .v1.engine.exceptions import EngineDeadError

        raise EngineDeadError()


class AsyncEngineArgs:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        RECORD["engine_args"].append(kwargs)


class FakeTokenizer:
    """Llama-3-like: the chat template writes the BOS text itself, encode() adds BOS by default."""

    bos_token = "<bos>"
    bos_token_id = 1

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        body = "".join(f"<{m['role']}>{m['content']}" for m in messages)
        return self.bos_token + body + "<assistant>"

    def encode(self, text, add_special_tokens=True):
        ids = [1] if add_special_tokens else []
        if text.startswith(self.bos_token):
            ids.append(1)
            text = text[len(self.bos_token):]
        return ids + [100 + (ord(ch) % 50) for ch in text]


class AsyncLLMEngine:
    def __init__(self, args: AsyncEngineArgs) -> None:
        self.args = args

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs) -> "AsyncLLMEngine":
        if SCRIPT["start_error"] is not None:
            raise SCRIPT["start_error"]
        return cls(args)

    async def get_tokenizer(self):  # a coroutine, as in older vLLM releases
        _raise_if_dead()
        return FakeTokenizer()

    async def generate(self, prompt, sampling_params, request_id):
        RECORD["generate"].append({"prompt": prompt, "params": sampling_params, "request_id": request_id})
        assert sampling_params.output_kind is RequestOutputKind.DELTA
        _raise_if_dead()
        tokens = SCRIPT["tokens"][: sampling_params.max_tokens]
        for index, token in enumerate(tokens):
            if SCRIPT["fail_with"] is not None and index == SCRIPT["fail_after"]:
                if type(SCRIPT["fail_with"]).__name__.endswith("EngineDeadError"):
                    SCRIPT["dead"] = True  # like vLLM's: once dead, every later call fails too
                raise SCRIPT["fail_with"]
            if SCRIPT["delay_s"]:
                await asyncio.sleep(SCRIPT["delay_s"])
            last = index == len(tokens) - 1
            reason = ("length" if len(SCRIPT["tokens"]) > sampling_params.max_tokens else "stop") if last else None
            yield SimpleNamespace(
                finished=last,
                prompt_token_ids=prompt["prompt_token_ids"],
                outputs=[SimpleNamespace(text=token, token_ids=[500 + index], finish_reason=reason)],
            )

    async def abort(self, request_id: str) -> None:
        RECORD["abort"].append(request_id)
        _raise_if_dead()
