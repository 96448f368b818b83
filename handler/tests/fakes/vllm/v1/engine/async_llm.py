"""vllm.v1.engine.async_llm.AsyncLLM as in vLLM 0.33.0 (vllm/v1/engine/async_llm.py), scripted.

Signatures are the real ones (test_vllm_fake.py compares them with _recorded.py). Behaviour kept from the
real code: `generate` checks the prompt against max_model_len (VLLMValidationError with vLLM's wording),
raises EngineDeadError on a dead engine, re-raises client/admission/generation errors as they are, wraps
any other failure as `EngineGenerateError() from error`, and aborts its own request when cancelled or
closed; `abort` returns without raising on a dead engine; `get_tokenizer` is a plain method that works
on a dead engine too. What it generates comes from vllm.SCRIPT:
  tokens            text of each generated token (one token id each)
  tokens_per_output how many tokens one DELTA output carries (vLLM's stream_interval)
  finish_reason     overrides the last output's reason ("abort", "error", "repetition")
  fail_with, fail_after  raise this exception before token `fail_after` (an EngineDeadError kills it)
  dead, start_error, delay_s
"""

import asyncio
from typing import Any, AsyncGenerator, Optional

from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import GenerationError, GracefulHTTPError, VLLMClientError, VLLMValidationError
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import RequestOutputKind, SamplingParams
from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError


class AsyncLLM:
    def __init__(self, engine_args: AsyncEngineArgs) -> None:
        self.engine_args = engine_args
        self.max_model_len = engine_args.max_model_len or 4096

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs, start_engine_loop: bool = True,
                         usage_context: Any = None, stat_loggers: Any = None) -> "AsyncLLM":
        from vllm import SCRIPT

        if not isinstance(engine_args, AsyncEngineArgs):
            raise TypeError("from_engine_args takes an AsyncEngineArgs")
        if SCRIPT["start_error"] is not None:
            raise SCRIPT["start_error"]
        return cls(engine_args)

    def get_tokenizer(self) -> Any:
        from vllm import FakeTokenizer

        return FakeTokenizer()

    def _check_prompt(self, prompt: Any) -> int:
        if not isinstance(prompt, dict) or "type" in prompt:
            raise TypeError(f"the fake takes a TokensPrompt, got {type(prompt).__name__}")
        ids = prompt.get("prompt_token_ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise TypeError("prompt_token_ids must be a list of ints")
        if not ids:
            raise VLLMValidationError("The decoder prompt cannot be empty")
        if len(ids) > self.max_model_len:
            raise VLLMValidationError(
                f"The decoder prompt (length {len(ids)}) is longer than the maximum model length of "
                f"{self.max_model_len}. Make sure that `max_model_len` is no smaller than the number of "
                "text tokens.")
        if len(ids) == self.max_model_len:
            raise VLLMValidationError(
                f"The decoder prompt (length {len(ids)}) plus the number of requested output tokens (at "
                f"least 1) is longer than the maximum model length of {self.max_model_len}. Make sure "
                "that `max_model_len` is no smaller than the number of text tokens (prompt + requested "
                "output tokens).")
        return len(ids)

    async def generate(self, prompt: Any, sampling_params: SamplingParams, request_id: str, *,
                       prompt_text: Optional[str] = None, lora_request: Any = None,
                       tokenization_kwargs: Any = None, trace_headers: Any = None, priority: int = 0,
                       data_parallel_rank: Optional[int] = None, session_id: Optional[str] = None,
                       kv_hints: Any = None, reasoning_ended: Optional[bool] = None,
                       reasoning_parser_kwargs: Any = None) -> AsyncGenerator[RequestOutput, None]:
        from vllm import RECORD
        from vllm.inputs import TokensPrompt

        RECORD["generate"].append({"prompt": prompt, "typed_prompt": isinstance(prompt, TokensPrompt),
                                   "params": sampling_params, "request_id": request_id})
        added = False
        try:
            from vllm import SCRIPT

            if SCRIPT["dead"]:
                raise EngineDeadError()  # add_request: `if self.errored: raise EngineDeadError()`
            if not isinstance(sampling_params, SamplingParams):
                raise TypeError("sampling_params must be a SamplingParams")
            prompt_len = self._check_prompt(prompt)
            added = True
            async for output in self._run(prompt, prompt_len, sampling_params, request_id):
                yield output
        except (asyncio.CancelledError, GeneratorExit):
            if added:
                await self.abort(request_id, internal=True)
            raise
        except EngineDeadError:
            raise
        except (VLLMClientError, GracefulHTTPError, GenerationError):
            if added:
                await self.abort(request_id, internal=True)
            raise
        except Exception as error:
            if added:
                await self.abort(request_id, internal=True)
            raise EngineGenerateError() from error

    async def _run(self, prompt: Any, prompt_len: int, params: SamplingParams,
                   request_id: str) -> AsyncGenerator[RequestOutput, None]:
        from vllm import SCRIPT

        limit = min(params.max_tokens if params.max_tokens is not None else self.max_model_len,
                    self.max_model_len - prompt_len)
        tokens = SCRIPT["tokens"][:limit]
        natural = "length" if len(SCRIPT["tokens"]) > limit else "stop"
        step = max(1, SCRIPT["tokens_per_output"])
        sent_text, sent_ids = "", []
        for start in range(0, max(len(tokens), 1), step):
            group = tokens[start:start + step]
            for offset in range(len(group)):
                index = start + offset
                if SCRIPT["fail_with"] is not None and index == SCRIPT["fail_after"]:
                    if isinstance(SCRIPT["fail_with"], EngineDeadError):
                        SCRIPT["dead"] = True  # like vLLM's: once dead, every later call fails too
                    raise SCRIPT["fail_with"]
            if SCRIPT["delay_s"]:
                await asyncio.sleep(SCRIPT["delay_s"])
            else:
                await asyncio.sleep(0)
            last = start + step >= len(tokens)
            reason = (SCRIPT["finish_reason"] or natural) if last else None
            text, ids = "".join(group), [500 + start + i for i in range(len(group))]
            if params.output_kind is RequestOutputKind.FINAL_ONLY and not last:
                sent_text, sent_ids = sent_text + text, sent_ids + ids
                continue
            if params.output_kind is not RequestOutputKind.DELTA:
                sent_text, sent_ids = sent_text + text, sent_ids + ids
                text, ids = sent_text, list(sent_ids)
            yield RequestOutput(request_id=request_id, prompt=None,
                                prompt_token_ids=list(prompt["prompt_token_ids"]), prompt_logprobs=None,
                                outputs=[CompletionOutput(index=0, text=text, token_ids=ids,
                                                          cumulative_logprob=None, logprobs=None,
                                                          finish_reason=reason)],
                                finished=last)

    async def abort(self, request_id: Any, internal: bool = False) -> None:
        from vllm import RECORD

        # Internal aborts are generate()'s own, on cancel or failure; on a dead engine vLLM returns
        # without raising, too.
        RECORD["abort_internal" if internal else "abort"].append(request_id)
