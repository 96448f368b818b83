"""What the installed runpod SDK does with our handler, pinned so an SDK upgrade that changes it shows."""

import asyncio
import gc
import inspect

import pytest

from conftest import echo_config
from engines.echo import EchoEngine
from handler import drain, is_local_run
from job_handler import JobHandler
from job_input import NATIVE_FIELDS
from runpod.serverless.modules import rp_job
from runpod.serverless.modules.rp_handler import is_generator

JOB = {"id": "sdk-1", "input": {"messages": [{"role": "user", "content": "a b"}], "max_tokens": 5}}


def handler_pair():
    config = echo_config()
    handler = JobHandler(EchoEngine("echo", config.max_model_len), config).handle
    return handler, drain(handler)


async def test_sdk_local_mode_does_not_iterate_an_async_generator_handler():
    handler, _ = handler_pair()
    assert is_generator(handler)
    result = await rp_job.run_job(handler, dict(JOB))
    # --test_input goes through run_job, which hands back the generator object itself, never run.
    assert inspect.isasyncgen(result["output"])
    await result["output"].aclose()


async def test_drained_handler_returns_what_the_platform_stores_for_the_job():
    _, drained = handler_pair()
    assert not is_generator(drained)
    result = await rp_job.run_job(drained, dict(JOB))
    assert result == {"output": [{"choices": [{"tokens": ["a b"], "finish_reason": "stop"}],
                                  "usage": {"input": 2, "output": 2}, "model": "echo"}]}
    failed = await rp_job.run_job(drained, {"id": "sdk-2", "input": {"messages": []}})
    assert failed["error"].startswith("input.messages:")


async def test_sdk_generator_path_turns_an_error_yield_into_a_failed_job():
    handler, _ = handler_pair()
    outputs = [o async for o in rp_job.run_job_generator(handler, {"id": "sdk-3", "input": {"x": 1}})]
    assert outputs == [{"output": {"error": "input.x: unknown field; allowed fields are "
                                             + ", ".join(NATIVE_FIELDS)}}]


async def turns_until(predicate, turns=50):
    """Lets the event loop run up to `turns` iterations until `predicate()` holds (no clock involved)."""
    for _ in range(turns):
        if predicate():
            return True
        await asyncio.sleep(0)
    return predicate()


@pytest.mark.parametrize("stop_during", ["post", "engine"])
async def test_a_stop_aborts_the_engine_request_as_soon_as_the_job_task_ends(monkeypatch, stop_during):
    # What JobScaler does: one task per job running rp_job.handle_job, task.cancel() for a stop, then
    # asyncio.wait on it: the task's CancelledError is never read and the task stays referenced.
    config = echo_config(ECHO_TOKEN_DELAY_MS="1", STREAM_BATCH_TOKENS="1")
    engine = EchoEngine("echo", config.max_model_len, 300.0 if stop_during == "engine" else 1.0)
    handler = JobHandler(engine, config).handle
    posts, posted, in_post, never = [], asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def stream_result(_session, output, _job):  # the SDK's post of a chunk
        posts.append(output)
        posted.set()
        if stop_during == "post" and len(posts) == 2:
            in_post.set()
            await never.wait()

    monkeypatch.setattr(rp_job, "stream_result", stream_result)
    job = {"id": "sdk-stop", "input": {"messages": [{"role": "user", "content": "w " * 100}], "stream": True}}
    task = asyncio.create_task(rp_job.handle_job(None, {"handler": handler, "return_aggregate_stream": True}, job))
    if stop_during == "post":
        await asyncio.wait_for(in_post.wait(), 10)
    else:  # right after the first post the job's task waits in the engine, 300 ms before the next word
        await asyncio.wait_for(posted.wait(), 10)
    gc.disable()  # the abort must not depend on the garbage collector
    try:
        task.cancel()
        await asyncio.wait([task])
        assert task.cancelled()
        assert await turns_until(lambda: engine.aborted == ["sdk-stop"]), engine.aborted
    finally:
        gc.enable()
    assert len(posts) == (2 if stop_during == "post" else 1)


def test_local_run_detection_follows_the_sdk():
    assert is_local_run(["handler.py", "--test_input", "{}"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
    assert is_local_run(["handler.py", "--test_input={}"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
    assert is_local_run(["handler.py"], {})
    assert not is_local_run(["handler.py"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
