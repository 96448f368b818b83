"""What the installed runpod SDK does with our handler, pinned so an SDK upgrade that changes it shows."""

import inspect

from conftest import echo_config
from engines.echo import EchoEngine
from handler import drain, is_local_run
from job_handler import make_handler
from runpod.serverless.modules import rp_job
from runpod.serverless.modules.rp_handler import is_generator

JOB = {"id": "sdk-1", "input": {"messages": [{"role": "user", "content": "a b"}], "max_tokens": 5}}


def handler_pair():
    config = echo_config()
    handler = make_handler(EchoEngine("echo", config.max_model_len), config)
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
    assert result == {"output": [{"response": "a b", "model": "echo", "finish_reason": "stop",
                                  "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}]}
    failed = await rp_job.run_job(drained, {"id": "sdk-2", "input": {"messages": []}})
    assert failed["error"].startswith("input.messages:")


async def test_sdk_generator_path_turns_an_error_yield_into_a_failed_job():
    handler, _ = handler_pair()
    outputs = [o async for o in rp_job.run_job_generator(handler, {"id": "sdk-3", "input": {"x": 1}})]
    assert outputs == [{"output": {"error": "input.x: unknown field; allowed fields are messages, "
                                             "max_tokens, temperature, top_p, stop, seed, stream"}}]


def test_local_run_detection_follows_the_sdk():
    assert is_local_run(["handler.py", "--test_input", "{}"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
    assert is_local_run(["handler.py", "--test_input={}"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
    assert is_local_run(["handler.py"], {})
    assert not is_local_run(["handler.py"], {"RUNPOD_WEBHOOK_GET_JOB": "http://x"})
