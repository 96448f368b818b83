"""The worker's bad-input sweep (issue 18 M2): input that would stall a job is refused by name, fast.

A lone UTF-16 surrogate is valid JSON ("\\ud800"), but the SDK posts results as UTF-8 and fails on it: the job
stayed IN_PROGRESS until the execution timeout. Nesting 1,000 deep did the same inside the SDK's fetch. Every
input here must give exactly one `{"error"}` that names its field, that the SDK can post, within a second.
"""

import asyncio
import json
import time

import pytest

from conftest import echo_config, run_job
from engines.echo import EchoEngine
from job_handler import JobHandler, unpostable
from job_input import MAX_INPUT_DEPTH, InputError, check_postable_input, parse_job_input

USER = [{"role": "user", "content": "hi"}]


def nested(depth, leaf="x"):
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_lists(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def openai(body):
    return {"openai_route": "/v1/chat/completions", "openai_input": body}


HOSTILE = [
    ("lone high surrogate in content", {"messages": [{"role": "user", "content": "a\ud800b"}]},
     "input.messages[0].content"),
    ("lone low surrogate in content", {"messages": [{"role": "user", "content": "\udfffb"}]},
     "input.messages[0].content"),
    ("reversed pair", {"messages": [{"role": "user", "content": "\udc00\ud800"}]}, "input.messages[0].content"),
    ("surrogate in the prompt", {"prompt": "x\ud83d"}, "input.prompt"),
    ("surrogate in a stop sequence", {"messages": USER, "stop": ["\ud800"]}, "input.stop[0]"),
    ("surrogate in the model name", {"messages": USER, "model": "m\udc00"}, "input.model"),
    ("surrogate in a key", {"messages": USER, "x\ud800": 1}, "input"),
    ("surrogate in an unknown field's value", {"messages": USER, "extra": "\ud800"}, "input.extra"),
    ("surrogate in an OpenAI text part", openai({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "\ud800"}]}]}), "input.openai_input.messages[0].content[0].text"),
    ("surrogate in an OpenAI system message", openai({"messages": [{"role": "system", "content": "\ud800"}] + USER}),
     "input.openai_input.messages[0].content"),
    ("surrogate as the whole input", "\ud800", "input"),
    ("objects nested 1,000 deep in an unknown field", {"messages": USER, "extra": nested(1_000)}, "input.extra"),
    ("lists nested 1,000 deep in content", {"messages": [{"role": "user", "content": nested_lists(1_000)}]},
     "input.messages[0].content"),
    ("objects nested 50,000 deep", {"messages": USER, "x": nested(50_000)}, "input.x"),
    ("lists nested 50,000 deep as the whole input", nested_lists(50_000), "input"),
    ("nested one past the limit", {"messages": USER, "x": nested(MAX_INPUT_DEPTH)}, "input.x.a"),
    ("deep OpenAI response_format", openai({"messages": USER, "response_format": nested(2_000)}),
     "input.openai_input.response_format"),
]


@pytest.mark.parametrize("name,job_input,field", HOSTILE, ids=[case[0] for case in HOSTILE])
async def test_hostile_input_is_refused_by_name_with_an_error_the_sdk_can_post(name, job_input, field):
    config = echo_config()
    handler = JobHandler(EchoEngine(config.model_name, config.max_model_len), config).handle
    started = time.monotonic()
    outputs = await asyncio.wait_for(run_job(handler, job_input), timeout=5)
    assert time.monotonic() - started < 1.0, name
    assert len(outputs) == 1 and set(outputs[0]) == {"error"}, outputs
    message = outputs[0]["error"]
    assert message.startswith(field), message
    assert "is not allowed" in message and "expected" in message, message
    assert unpostable(outputs[0]) is None  # the SDK can post it: no hang
    json.dumps(outputs[0], ensure_ascii=False).encode("utf-8")


def test_the_sweep_counts():
    """Tried, named errors, hangs: the line the issue's closing note reads."""
    config = echo_config()
    named, hangs = 0, 0
    for _name, job_input, field in HOSTILE:
        handler = JobHandler(EchoEngine(config.model_name, config.max_model_len), config).handle
        try:
            outputs = asyncio.run(asyncio.wait_for(run_job(handler, job_input), timeout=5))
        except asyncio.TimeoutError:
            hangs += 1
            continue
        if len(outputs) == 1 and str(outputs[0].get("error", "")).startswith(field) and unpostable(outputs[0]) is None:
            named += 1
    print(f"worker hostile sweep: {len(HOSTILE)} tried, {named} named errors, {hangs} hangs")
    assert (named, hangs) == (len(HOSTILE), 0)


def test_valid_pairs_and_the_deepest_valid_input_still_pass():
    # A pair escaped in JSON (as JavaScript's JSON.stringify writes an emoji) is one character once parsed.
    job_input = json.loads('{"messages": [{"role": "user", "content": "smile \\ud83d\\ude00 \U0001F600"}]}')
    request = parse_job_input(job_input, 100)
    assert request.messages[0]["content"] == "smile \U0001F600 \U0001F600"
    check_postable_input(nested(MAX_INPUT_DEPTH))
    with pytest.raises(InputError, match=f"nested deeper than {MAX_INPUT_DEPTH} levels"):
        check_postable_input(nested(MAX_INPUT_DEPTH + 1))


class SurrogateEngine(EchoEngine):
    """An engine whose text is not valid Unicode (what the SDK could never post)."""

    async def generate(self, prompt, params, request_id):
        async for delta in super().generate(prompt, params, request_id):
            yield type(delta)(text=delta.text + "\udc80", completion_tokens=delta.completion_tokens,
                              finish_reason=delta.finish_reason)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_output_the_sdk_cannot_post_fails_the_job_at_once_and_aborts_the_engine(stream):
    config = echo_config()
    engine = SurrogateEngine(config.model_name, config.max_model_len)
    handler = JobHandler(engine, config).handle
    outputs = await asyncio.wait_for(run_job(handler, {"messages": [{"role": "user", "content": "a b c d"}],
                                                         "stream": stream}), timeout=5)
    assert len(outputs) == 1, outputs
    assert outputs[0]["error"].startswith("the worker's answer cannot be sent back (it holds a lone UTF-16 surrogate")
    assert unpostable(outputs[0]) is None
    if stream:  # the answer was cut short: its engine request must not run on
        assert engine.aborted == ["job-1"]


def test_unpostable_names_what_the_sdk_would_fail_on():
    assert unpostable({"text": "ok \U0001F600"}) is None
    assert "surrogate" in unpostable({"text": "\ud800"})
    assert "not JSON" in unpostable({"bytes": b"x"})
    assert "nested too deep" in unpostable(nested(100_000))
