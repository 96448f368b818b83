"""The job handler: validate, run the engine, and stream or return the contract.

`JobHandler(engine, config, on_fatal).handle` is an async generator function (the SDK streams its yields,
and with return_aggregate_stream the job's output is the list of all of them). What it yields, per input:
- native, `stream` false: ONE dict in worker-vllm's shape, with the whole text, so the job's output is
  `[{"choices": [{"tokens": [text], "finish_reason": r}], "usage": {"input": n, "output": m}, "model": name}]`
  (what MetaHuman OS's RunPod client and worker-vllm's users read: `output[0].choices[0].tokens`,
  `usage.input/output`; `finish_reason` and `model` are ours, extra keys those readers ignore);
- native, `stream` true: worker-vllm's chunks `{"choices": [{"tokens": [delta]}], "usage": {"input": n,
  "output": m}}`, several tokens each, `usage` counting the tokens so far; the last one's choice also carries
  `finish_reason` and the chunk `model` (its delta may be non-empty: concatenate every `tokens`);
- OpenAI route `/v1/chat/completions`: one `chat.completion` object, or with `stream` one
  `chat.completion.chunk` per yield (plus a usage-only chunk with `stream_options.include_usage`);
- OpenAI route `/v1/models`: one model list (the served model and its aliases);
- bad input: one `{"error": "<field>: ..."}` (the SDK then fails the job with that message); a `model`
  this worker does not serve is bad input, the error lists what it serves;
- an engine failure: one `{"error": ...}`. vLLM refusing the request (its VLLMClientError, e.g. a prompt
  too long) is the user's error naming max_model_len; a retryable one (vLLM's finish reason `error`, an
  `abort` we did not ask for, EngineGenerateError) says to send the request again; an unrecoverable
  one (engine_errors.classify_fatal: vLLM's engine is dead, a CUDA fault or CUDA out of memory) says so
  and that the worker is being replaced, `on_fatal(reason)` is called once (handler.py then ends the
  worker after the post), and every later job on this worker fails at once with the same cause.
`finish_reason` is "stop", "length" or vLLM's "repetition" (it stopped a repetitive pattern).
A stopped job (the SDK cancels the task iterating the generator) aborts its engine request as soon as
that task ends, wherever the cancel landed (see `JobHandler.handle` for why that needs care).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Dict, Optional, Set, Tuple

import openai_format
from engine_errors import (classify_client_error, classify_fatal, dead_worker_error, engine_error,
                           fatal_job_error, request_refused_error)
from engines.base import Engine, GenerationParams, PreparedPrompt
from job_input import ChatRequest, InputError, parse_job_input, resolve_max_tokens
from worker_config import WorkerConfig

log = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], AsyncIterator[Dict[str, Any]]]
OnFatal = Callable[[str], None]


@dataclass(frozen=True)
class Batch:
    text: str
    completion_tokens: int
    """Total so far, not just this batch."""
    finish_reason: Optional[str]


async def _batches(engine: Engine, prompt: PreparedPrompt, params: GenerationParams,
                   request_id: str, batch_tokens: int) -> AsyncIterator[Batch]:
    """Groups engine deltas so each yield (one HTTP post by the SDK) carries several tokens.

    The first text goes out alone so the reader sees the answer start as early as possible.
    """
    pending, pending_tokens, total, first = "", 0, 0, True
    async for delta in engine.generate(prompt, params, request_id):
        pending += delta.text
        pending_tokens += delta.completion_tokens
        total += delta.completion_tokens
        if delta.finish_reason is not None:
            yield Batch(pending, total, delta.finish_reason)
            return
        if (first and pending) or pending_tokens >= batch_tokens:
            yield Batch(pending, total, None)
            pending, pending_tokens, first = "", 0, False
    # An engine that ends without a reason was stopped from outside; what it wrote is the answer.
    yield Batch(pending, total, "stop")


class JobHandler:
    """Runs jobs on one engine; `handle` is the async generator function given to the SDK.

    It holds what outlives a job: whether the engine has died (then every later job fails at once with
    that cause), and the aclose() tasks of stopped jobs (held so the event loop cannot drop them half-way).
    """

    def __init__(self, engine: Engine, config: WorkerConfig, on_fatal: Optional[OnFatal] = None) -> None:
        self._engine = engine
        self._config = config
        self._on_fatal = on_fatal
        self.dead_reason: Optional[str] = None
        """Set once the engine has failed unrecoverably."""
        self._closers: Set[asyncio.Task] = set()

    async def handle(self, job: Dict[str, Any]) -> AsyncIterator[Dict[str, Any]]:
        # Why this wrapper: the SDK (runpod, rp_job.handle_job) iterates this generator in the job's own
        # task and posts each yield itself; a stop (JobScaler.stop_job) cancels that task wherever it
        # waits. When that is one of our awaits (the engine), the CancelledError goes through
        # _job_outputs, which aborts the engine request. When it is the SDK's post of a chunk,
        # _job_outputs sits at a `yield` and never sees it: the task ends keeping its CancelledError,
        # whose traceback holds the SDK's frames and so _job_outputs; the SDK never reads that error and
        # keeps the task in a local of JobScaler.run_jobs until its next job. So the engine request went
        # on generating (vLLM: up to max_tokens) until another job came or the worker stopped. Not GC: it
        # is a strong reference. The fix is a done-callback on the consuming task: once that task has
        # ended, no one can resume _job_outputs, so the callback closes it; aclose() raises GeneratorExit
        # at the suspended yield and the same except clause aborts the engine request. That runs a few
        # loop turns after the stop, whatever the SDK does with the task. Only one path runs: if the
        # CancelledError went through _job_outputs, it has ended and the callback does nothing.
        outputs = self._job_outputs(job)
        consumer = asyncio.current_task()
        callback = self._close_when_consumer_ends(outputs, consumer) if consumer is not None else None
        try:
            async for output in outputs:
                problem = unpostable(output)
                if problem is not None:
                    # The SDK would fail to post this and leave the job IN_PROGRESS until its execution
                    # timeout: fail the job now with an error it can post (closing `outputs` aborts the engine).
                    log.error("job %s: an output cannot be posted to RunPod: %s", job.get("id"), problem)
                    yield {"error": f"the worker's answer cannot be sent back ({problem}); the job fails instead"}
                    return
                yield output
        finally:
            # Reached when _job_outputs ended, or when this generator is itself closed (drain() returning
            # early): then close _job_outputs here and now (a no-op when it has ended).
            if callback is not None and consumer is not None:
                consumer.remove_done_callback(callback)
            await outputs.aclose()

    def _close_when_consumer_ends(self, outputs: AsyncGenerator[Dict[str, Any], None],
                                  consumer: asyncio.Task) -> Callable[[asyncio.Task], None]:
        def on_consumer_done(_task: asyncio.Task) -> None:
            if outputs.ag_frame is None:  # it already ran to its end (or was closed): nothing to free
                return
            closer = consumer.get_loop().create_task(outputs.aclose())
            self._closers.add(closer)
            closer.add_done_callback(self._closers.discard)

        consumer.add_done_callback(on_consumer_done)
        return on_consumer_done

    def _engine_failed(self, request_id: str, error: Exception) -> Dict[str, str]:
        """The job's `{error}` for an engine failure; an unrecoverable one also arms the worker's exit."""
        client_error = classify_client_error(error)
        if client_error is not None:
            log.info("job %s: the engine refused the request: %s", request_id, client_error)
            return {"error": request_refused_error(client_error, self._engine.max_model_len)}
        what = classify_fatal(error)
        if what is None:
            log.exception("job %s: engine failed", request_id)
            return {"error": engine_error(error)}
        log.critical("job %s: unrecoverable engine error: %s", request_id, what, exc_info=error)
        if self.dead_reason is None:
            self.dead_reason = what
            if self._on_fatal is not None:
                self._on_fatal(what)
        return {"error": fatal_job_error(what, error)}

    async def _prepare(self, job_input: Any) -> Tuple[ChatRequest, Optional[PreparedPrompt], int]:
        """Validates the input and renders the prompt; raises InputError naming the field."""
        engine = self._engine
        request = parse_job_input(job_input, engine.max_model_len, self._config.served_models)
        if request.kind == "openai_models":
            return request, None, 0
        prompt = await engine.prepare(request.messages, raw_prompt=request.raw_prompt)
        max_tokens = resolve_max_tokens(request, prompt.prompt_tokens, engine.max_model_len,
                                        self._config.default_max_tokens)
        return request, prompt, max_tokens

    async def _job_outputs(self, job: Dict[str, Any]) -> AsyncGenerator[Dict[str, Any], None]:
        engine = self._engine
        request_id = str(job.get("id") or uuid.uuid4())
        if self.dead_reason is not None:
            log.info("job %s: refused, the engine is dead", request_id)
            yield {"error": dead_worker_error(self.dead_reason)}
            return
        try:
            request, prompt, max_tokens = await self._prepare(job.get("input"))
        except InputError as error:
            log.info("job %s: bad input: %s", request_id, error)
            yield {"error": str(error)}
            return
        except Exception as error:  # the tokenizer and its chat template live in the engine
            yield self._engine_failed(request_id, error)
            return
        if prompt is None:
            yield openai_format.model_list(self._config.served_models)
            return

        params = GenerationParams(max_tokens=max_tokens, temperature=request.temperature,
                                  top_p=request.top_p, stop=request.stop, seed=request.seed,
                                  json_output=request.json_output, extra=dict(request.extra_sampling))
        finished = False
        try:
            async with aclosing(_batches(engine, prompt, params, request_id,
                                         self._config.stream_batch_tokens)) as batches:
                async for output in _format(request, engine.model_name, request_id,
                                            prompt.prompt_tokens, batches):
                    if _is_last(output):
                        finished = True
                    yield output
                finished = True
        except (asyncio.CancelledError, GeneratorExit):
            # The job was stopped (cancelled, timed out): CancelledError when the SDK's cancel lands in
            # one of our awaits, GeneratorExit when `handle` closes us after it landed in the SDK's
            # post of a chunk. Either way, free the GPU slot now.
            if not finished:
                log.info("job %s: stopped, aborting the engine request", request_id)
                await engine.abort(request_id)
            raise
        except Exception as error:  # an engine failure: report it as JSON, never a partial object
            failure = self._engine_failed(request_id, error)
            try:
                await engine.abort(request_id)
            except Exception:  # a dead engine may refuse the abort too; the job's error matters more
                log.warning("job %s: abort after the engine failure also failed", request_id, exc_info=True)
            yield failure


def unpostable(output: Any) -> Optional[str]:
    """Why the SDK could not post `output` (it sends json.dumps(ensure_ascii=False) as UTF-8), or None."""
    try:
        json.dumps(output, ensure_ascii=False).encode("utf-8")
        return None
    except UnicodeEncodeError as error:
        return f"it holds a lone UTF-16 surrogate (U+{ord(error.object[error.start]):04X}), which is not valid UTF-8"
    except RecursionError:
        return "it is nested too deep to encode as JSON"
    except (TypeError, ValueError) as error:
        return f"it is not JSON: {type(error).__name__}: {ascii(str(error))[:120]}"


def _is_last(output: Dict[str, Any]) -> bool:
    """Whether this output closes the answer (after it, a stop must not abort the engine request)."""
    if output.get("finish_reason"):
        return True
    choices = output.get("choices") or []
    return bool(choices and choices[0].get("finish_reason"))


async def _format(request: ChatRequest, model: str, request_id: str, prompt_tokens: int,
                  batches: AsyncIterator[Batch]) -> AsyncIterator[Dict[str, Any]]:
    if request.kind == "openai_chat":
        async for output in _format_openai(request, model, request_id, prompt_tokens, batches):
            yield output
        return

    if request.stream:
        async for batch in batches:
            chunk: Dict[str, Any] = {"choices": [{"tokens": [batch.text]}],
                                     "usage": {"input": prompt_tokens, "output": batch.completion_tokens}}
            if batch.finish_reason is not None:
                chunk["choices"][0]["finish_reason"] = batch.finish_reason
                chunk["model"] = model
            yield chunk
        return

    text = []
    async for batch in batches:
        text.append(batch.text)
        if batch.finish_reason is not None:
            yield worker_vllm_output("".join(text), batch.finish_reason, model, prompt_tokens,
                                     batch.completion_tokens)


def worker_vllm_output(text: str, finish_reason: str, model: str, prompt_tokens: int,
                       completion_tokens: int) -> Dict[str, Any]:
    """A whole answer in worker-vllm's output shape (one element of the job's output list)."""
    return {"choices": [{"tokens": [text], "finish_reason": finish_reason}],
            "usage": {"input": prompt_tokens, "output": completion_tokens}, "model": model}


async def _format_openai(request: ChatRequest, model: str, request_id: str, prompt_tokens: int,
                         batches: AsyncIterator[Batch]) -> AsyncIterator[Dict[str, Any]]:
    completion_id = f"chatcmpl-{request_id}"
    if not request.stream:
        text = []
        async for batch in batches:
            text.append(batch.text)
            if batch.finish_reason is not None:
                yield openai_format.completion(completion_id, model, "".join(text), batch.finish_reason,
                                               prompt_tokens, batch.completion_tokens)
        return

    first = True
    async for batch in batches:
        delta: Dict[str, str] = {"role": "assistant", "content": batch.text} if first else {"content": batch.text}
        first = False
        yield openai_format.chunk(completion_id, model, delta, batch.finish_reason)
        if batch.finish_reason is not None and request.include_usage:
            yield openai_format.usage_chunk(completion_id, model, prompt_tokens, batch.completion_tokens)
