"""The handler with the echo engine: contract, streaming, OpenAI route, validation errors, cancel."""

import asyncio
import inspect
import json

import pytest

from conftest import echo_config, run_job
from engines.echo import EchoEngine
from job_handler import JobHandler

WORDS = "one two three four five six seven"


def build(**env):
    config = echo_config(**env)
    engine = EchoEngine(config.model_name, config.max_model_len, config.echo_token_delay_ms)
    return engine, JobHandler(engine, config).handle


def chat(content=WORDS, **extra):
    return {"messages": [{"role": "system", "content": "be kind"}, {"role": "user", "content": content}],
            **extra}


def test_handler_is_an_async_generator_function_so_the_sdk_streams_it():
    _, handler = build()
    assert inspect.isasyncgenfunction(handler)


async def test_non_streaming_job_yields_the_whole_answer_once_in_worker_vllm_shape():
    _, handler = build()
    outputs = await run_job(handler, chat(max_tokens=50, temperature=0))
    # The SDK aggregates yields into a list: this one element is the job's whole output.
    assert outputs == [{
        "choices": [{"tokens": [WORDS], "finish_reason": "stop"}],
        "usage": {"input": 9, "output": 7}, "model": "echo",
    }]
    json.dumps(outputs)  # everything the handler yields is JSON


async def test_max_tokens_is_a_word_budget_and_reports_length():
    _, handler = build()
    [output] = await run_job(handler, chat(max_tokens=3))
    assert output["choices"] == [{"tokens": ["one two three"], "finish_reason": "length"}]
    assert output["usage"] == {"input": 9, "output": 3}


async def test_streaming_yields_text_batches_then_finish_with_usage():
    _, handler = build(STREAM_BATCH_TOKENS="3")
    outputs = await run_job(handler, chat(max_tokens=50, stream=True))
    # First text alone (early first byte), then 3 tokens a yield, the rest with the finish.
    assert [o["choices"][0]["tokens"][0] for o in outputs] == ["one", " two three four", " five six seven"]
    assert all(set(o) == {"choices", "usage"} and "finish_reason" not in o["choices"][0] for o in outputs[:-1])
    assert outputs[-1]["choices"][0]["finish_reason"] == "stop"
    assert outputs[-1]["model"] == "echo"
    # worker-vllm's usage: tokens so far, on every chunk.
    assert [o["usage"] for o in outputs] == [{"input": 9, "output": n} for n in (1, 4, 7)]
    assert "".join(o["choices"][0]["tokens"][0] for o in outputs) == WORDS


async def test_empty_user_message_finishes_at_once():
    _, handler = build()
    [output] = await run_job(handler, chat(content="", stream=True))
    assert output == {"choices": [{"tokens": [""], "finish_reason": "stop"}], "model": "echo",
                      "usage": {"input": 2, "output": 0}}


async def test_bad_input_yields_one_error_naming_the_field():
    _, handler = build()
    assert await run_job(handler, chat(max_tokens=-5)) == [
        {"error": "input.max_tokens: -5 is not allowed; expected an integer from 1 to 8192 (max_model_len)"}]
    [output] = await run_job(handler, chat(temperature="hot"))
    assert output["error"].startswith("input.temperature:")


async def test_prompt_plus_max_tokens_must_fit_max_model_len():
    _, handler = build(MAX_MODEL_LEN="20")
    [output] = await run_job(handler, chat(max_tokens=12))  # prompt is 9 words
    assert output["error"].startswith("input.max_tokens: 12 is not allowed; the prompt is 9 tokens")
    [output] = await run_job(handler, chat(max_tokens=11))
    assert output["choices"][0]["finish_reason"] == "stop"


async def test_openai_chat_completion():
    _, handler = build()
    [output] = await run_job(handler, {"openai_route": "/v1/chat/completions", "openai_input": {
        "model": "echo", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 8}},
        job_id="abc")
    assert output["object"] == "chat.completion"
    assert output["id"] == "chatcmpl-abc"
    assert output["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "hello there"},
                                  "logprobs": None, "finish_reason": "stop"}]
    assert output["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}


async def test_openai_streaming_chunks_with_usage_chunk():
    _, handler = build(STREAM_BATCH_TOKENS="2")
    outputs = await run_job(handler, {"openai_route": "/v1/chat/completions", "openai_input": {
        "messages": [{"role": "user", "content": "a b c d"}], "stream": True,
        "stream_options": {"include_usage": True}}})
    assert all(o["object"] == "chat.completion.chunk" for o in outputs)
    deltas = [o["choices"][0]["delta"] for o in outputs[:-1]]
    assert deltas[0] == {"role": "assistant", "content": "a"}
    assert "".join(d["content"] for d in deltas) == "a b c d"
    assert [o["choices"][0]["finish_reason"] for o in outputs[:-1]] == [None] * (len(deltas) - 1) + ["stop"]
    assert outputs[-1]["choices"] == []
    assert outputs[-1]["usage"]["completion_tokens"] == 4


async def test_openai_models_route():
    _, handler = build(MODEL_NAME="my-model")
    [output] = await run_job(handler, {"openai_route": "/v1/models"})
    assert output["object"] == "list"
    assert [m["id"] for m in output["data"]] == ["my-model"]


async def test_cancel_aborts_the_engine_request_and_reraises():
    engine, handler = build(ECHO_TOKEN_DELAY_MS="20", STREAM_BATCH_TOKENS="1")
    received = []
    first = asyncio.Event()

    async def consume():
        async for output in handler({"id": "job-cancel", "input": chat(content="w " * 500, stream=True)}):
            received.append(output)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.aborted == ["job-cancel"]
    assert 1 <= len(received) < 500


async def test_finished_jobs_are_not_aborted():
    engine, handler = build()
    await run_job(handler, chat(stream=True))
    assert engine.aborted == []


async def test_jobs_run_concurrently_on_one_engine():
    engine, handler = build(ECHO_TOKEN_DELAY_MS="5", STREAM_BATCH_TOKENS="1")
    order = []

    async def consume(job_id):
        async for output in handler({"id": job_id, "input": chat(content="x y z", stream=True)}):
            order.append(job_id)

    await asyncio.gather(consume("a"), consume("b"))
    # Interleaved yields show both jobs were in flight at once on the one event loop.
    assert order[:2] in (["a", "b"], ["b", "a"])
    assert sorted(order) == ["a"] * 3 + ["b"] * 3


async def test_json_format_answers_valid_json_holding_the_echo():
    _, handler = build()
    [output] = await run_job(handler, chat(content='say "hi" twice', format="json", max_tokens=50))
    assert json.loads(output["choices"][0]["tokens"][0]) == {"echo": 'say "hi" twice'}
    assert output["choices"][0]["finish_reason"] == "stop"
    streamed = await run_job(handler, chat(content="a b", format="json", stream=True))
    assert json.loads("".join(o["choices"][0]["tokens"][0] for o in streamed)) == {"echo": "a b"}


async def test_a_model_the_worker_does_not_serve_is_refused_listing_what_it_serves():
    _, handler = build(MODEL_NAME="org/model", MODEL_ALIASES="llama3:8b")
    [output] = await run_job(handler, chat(model="llama3:8b", max_tokens=2))
    assert output["model"] == "org/model"
    assert output["choices"][0]["tokens"] == ["one two"]
    assert await run_job(handler, chat(model="mistral")) == [{
        "error": "input.model: 'mistral' is not served by this worker; it serves 'org/model', 'llama3:8b' "
                 "(set MODEL_ALIASES on the endpoint to accept other names)"}]


async def test_openai_models_route_lists_the_aliases_too():
    _, handler = build(MODEL_NAME="org/model", MODEL_ALIASES="llama3:8b,default")
    [output] = await run_job(handler, {"openai_route": "/v1/models"})
    assert [m["id"] for m in output["data"]] == ["org/model", "llama3:8b", "default"]
