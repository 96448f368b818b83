"""A deterministic engine for local runs and tests: it echoes the last user message, word by word.

It goes through the same handler code as vLLM. Tokens are whitespace-separated words: the prompt
counts the words of every message, `max_tokens` is a word budget (finish_reason "length" when it cuts),
and ECHO_TOKEN_DELAY_MS sleeps between words so streaming and cancel can be observed.
Sampling settings (temperature, top_p, stop, seed) do not change what it says. With `json_output`
(`format: "json"`) it answers the JSON object `{"echo": "<last user message>"}`, split into tokens at
its spaces, so the answer is valid JSON whenever max_tokens does not cut it (as with vLLM's structured
output, a cut answer ends with finish_reason "length").
Test switch: with ECHO_FAIL_FATAL_AFTER=n, the first n generations run and every later one raises a
simulated CUDA error (as a GPU fault would, the engine stays broken), which the handler treats as
unrecoverable: the job fails and the worker exits so the platform replaces it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import AsyncIterator, List, Optional, Sequence, Set

from .base import EngineDelta, GenerationParams, Message, PreparedPrompt

log = logging.getLogger(__name__)


class EchoEngine:
    def __init__(self, model_name: str, max_model_len: int, token_delay_ms: float = 0.0,
                 fail_fatal_after: Optional[int] = None) -> None:
        self.model_name = model_name
        self._fail_fatal_after = fail_fatal_after
        self.generations = 0
        """Generations started so far (ECHO_FAIL_FATAL_AFTER counts these)."""
        self.max_model_len = max_model_len
        self._token_delay_s = token_delay_ms / 1000.0
        self._running: Set[str] = set()
        self.aborted: List[str] = []
        """Request ids aborted so far, in order (tests read it)."""

    async def prepare(self, messages: Sequence[Message], raw_prompt: Optional[str] = None) -> PreparedPrompt:
        # A raw prompt is also `messages`' one user turn: echoed the same way.
        prompt_tokens = sum(len(message["content"].split()) for message in messages)
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return PreparedPrompt(prompt_tokens=prompt_tokens, payload=last_user.split())

    async def generate(self, prompt: PreparedPrompt, params: GenerationParams,
                       request_id: str) -> AsyncIterator[EngineDelta]:
        words: List[str] = prompt.payload
        if params.json_output:
            words = json.dumps({"echo": " ".join(words)}).split(" ")
        budget = min(len(words), params.max_tokens)
        finish_reason = "length" if len(words) > params.max_tokens else "stop"
        self.generations += 1
        if self._fail_fatal_after is not None and self.generations > self._fail_fatal_after:
            raise RuntimeError("CUDA error: an illegal memory access was encountered "
                               f"(simulated: ECHO_FAIL_FATAL_AFTER={self._fail_fatal_after})")
        self._running.add(request_id)
        try:
            if budget == 0:
                yield EngineDelta(text="", completion_tokens=0, finish_reason=finish_reason)
                return
            for index in range(budget):
                if self._token_delay_s > 0:
                    await asyncio.sleep(self._token_delay_s)
                else:
                    await asyncio.sleep(0)  # stay cancellable, like a real engine's await
                text = words[index] if index == 0 else " " + words[index]
                last = index == budget - 1
                yield EngineDelta(text=text, completion_tokens=1,
                                  finish_reason=finish_reason if last else None)
        finally:
            self._running.discard(request_id)

    async def abort(self, request_id: str) -> None:
        log.info("echo: abort %s", request_id)
        self.aborted.append(request_id)
        self._running.discard(request_id)
