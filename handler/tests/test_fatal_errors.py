"""Unrecoverable engine errors: which ones, what the failed job says, and arming the worker's exit."""

import threading

import pytest

from conftest import echo_config, run_job
from engine_errors import classify_fatal
from engines.echo import EchoEngine
from job_handler import JobHandler
from worker_config import ConfigError, load_worker_config
from worker_exit import EXIT_ENGINE_DEAD, FatalExit

USER = [{"role": "user", "content": "one two three"}]


def torch_oom(message="CUDA out of memory. Tried to allocate 2.00 GiB"):
    # torch.cuda.OutOfMemoryError is torch.OutOfMemoryError (module "torch") in current releases.
    return type("OutOfMemoryError", (RuntimeError,), {"__module__": "torch"})(message)


# --- classification -------------------------------------------------------------------------------

def test_vllm_engine_dead_error_is_fatal(fake_vllm):
    from vllm.v1.engine.exceptions import EngineDeadError

    assert classify_fatal(EngineDeadError()) == "the vLLM engine is dead"


def test_a_wrapped_engine_dead_error_is_found_through_its_cause(fake_vllm):
    from vllm.v1.engine.exceptions import EngineDeadError

    try:
        try:
            raise EngineDeadError()
        except EngineDeadError as inner:
            raise RuntimeError("generate failed") from inner
    except RuntimeError as outer:
        assert classify_fatal(outer) == "the vLLM engine is dead"


@pytest.mark.parametrize("error,expected", [
    (RuntimeError("CUDA error: device-side assert triggered\nCompile with TORCH_USE_CUDA_DSA"),
     "the GPU reported a CUDA error"),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), "the GPU reported a CUDA error"),
    (RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx"), "the GPU reported a CUDA error"),
    (torch_oom(), "the GPU ran out of memory (CUDA out of memory)"),
    (torch_oom("no message"), "the GPU ran out of memory (CUDA out of memory)"),
])
def test_cuda_faults_and_gpu_oom_are_fatal(error, expected):
    assert classify_fatal(error) == expected


@pytest.mark.parametrize("error", [
    ValueError("prompt too long"),
    RuntimeError("request timed out"),
    KeyError("choices"),
    type("EngineDeadError", (Exception,), {"__module__": "someone_else"})("not vLLM's"),
])
def test_other_errors_fail_only_their_job(error):
    assert classify_fatal(error) is None


# --- the handler's output -------------------------------------------------------------------------

def echo_handler(fail_after, calls):
    config = echo_config(ECHO_FAIL_FATAL_AFTER=str(fail_after))
    engine = EchoEngine(config.model_name, config.max_model_len, 0, config.echo_fail_fatal_after)
    return engine, JobHandler(engine, config, on_fatal=calls.append).handle


async def test_fatal_error_fails_the_job_saying_what_happened_and_what_to_do():
    calls = []
    engine, handler = echo_handler(1, calls)
    [ok] = await run_job(handler, {"messages": USER})
    assert ok["choices"][0]["tokens"] == ["one two three"]
    assert calls == []

    [failed] = await run_job(handler, {"messages": USER, "stream": True}, job_id="job-dead")
    message = failed["error"]
    assert set(failed) == {"error"}
    assert message.startswith("engine: the GPU reported a CUDA error (RuntimeError: CUDA error: an illegal memory")
    assert "This worker is exiting so RunPod replaces it" in message
    assert "send the request again" in message
    assert calls == ["the GPU reported a CUDA error"]
    assert engine.aborted == ["job-dead"]


async def test_jobs_after_a_fatal_error_fail_at_once_without_the_engine():
    calls = []
    engine, handler = echo_handler(0, calls)
    await run_job(handler, {"messages": USER})
    [later] = await run_job(handler, {"messages": USER}, job_id="job-later")
    assert later == {"error": "engine: this worker's engine failed on an earlier job (the GPU reported a "
                              "CUDA error) and the worker is exiting so RunPod replaces it; send the request again."}
    assert engine.generations == 1  # the later job never reached the engine
    assert calls == ["the GPU reported a CUDA error"]  # the exit is armed once


async def test_vllm_engine_dying_mid_stream_keeps_what_was_streamed_then_fails(fake_vllm):
    from engines import build_engine
    from vllm.v1.engine.exceptions import EngineDeadError

    config = load_worker_config({"MODEL_NAME": "org/model", "STREAM_BATCH_TOKENS": "1"})
    calls = []
    handler = JobHandler(build_engine(config), config, on_fatal=calls.append).handle
    fake_vllm.SCRIPT.update(fail_after=1, fail_with=EngineDeadError())
    outputs = await run_job(handler, {"messages": USER, "stream": True}, job_id="job-v1")
    assert outputs[0]["choices"] == [{"tokens": ["Hello"]}]
    assert outputs[1]["error"].startswith("engine: the vLLM engine is dead (EngineDeadError: EngineCore")
    assert len(outputs) == 2
    assert calls == ["the vLLM engine is dead"]
    assert fake_vllm.RECORD["abort"] == ["job-v1"]


async def test_a_dead_vllm_engine_fails_the_next_job_at_generate(fake_vllm):
    # vLLM 0.33: get_tokenizer() still works on a dead engine; generate() raises EngineDeadError.
    from engines import build_engine

    config = load_worker_config({"MODEL_NAME": "org/model"})
    calls = []
    handler = JobHandler(build_engine(config), config, on_fatal=calls.append).handle
    fake_vllm.SCRIPT.update(dead=True)
    [output] = await run_job(handler, {"messages": USER})
    assert output["error"].startswith("engine: the vLLM engine is dead")
    assert calls == ["the vLLM engine is dead"]


async def test_a_recoverable_engine_error_fails_only_its_job(fake_vllm):
    from engines import build_engine

    config = load_worker_config({"MODEL_NAME": "org/model"})
    calls = []
    handler = JobHandler(build_engine(config), config, on_fatal=calls.append).handle
    fake_vllm.SCRIPT.update(fail_after=0, fail_with=ValueError("sampler rejected the request"))
    [failed] = await run_job(handler, {"messages": USER})
    # vLLM wraps it: `raise EngineGenerateError() from error`, and aborts the request itself.
    assert failed == {"error": "engine: EngineGenerateError caused by ValueError: sampler rejected the "
                               "request. The engine is fine; send the request again"}
    fake_vllm.SCRIPT.update(fail_with=None)
    [ok] = await run_job(handler, {"messages": USER})
    assert ok["choices"][0]["tokens"] == ["Hello, world"]
    assert calls == []


# --- engine start ---------------------------------------------------------------------------------

def test_missing_model_path_at_start_names_the_settings(fake_vllm, tmp_path):
    from handler import EngineStartError, start_engine

    missing = str(tmp_path / "no-model")
    with pytest.raises(EngineStartError) as info:
        start_engine(load_worker_config({"MODEL_NAME": missing, "GPU_MEMORY_UTILIZATION": "0.85"}))
    message = str(info.value)
    assert message.startswith("engine start failed: FileNotFoundError: MODEL_NAME=")
    assert "the model was not found: check MODEL_NAME and that the network volume is mounted" in message
    assert f"MODEL_NAME={missing!r}" in message and "GPU_MEMORY_UTILIZATION=0.85" in message


def test_cuda_oom_at_start_says_what_to_lower(fake_vllm):
    from handler import EngineStartError, start_engine

    fake_vllm.SCRIPT.update(start_error=torch_oom())
    with pytest.raises(EngineStartError) as info:
        start_engine(load_worker_config({"MODEL_NAME": "org/model", "MAX_MODEL_LEN": "32768"}))
    message = str(info.value)
    assert "OutOfMemoryError: CUDA out of memory" in message
    assert "lower MAX_MODEL_LEN" in message and "GPU_MEMORY_UTILIZATION" in message
    assert "MAX_MODEL_LEN=32768" in message and "MODEL_NAME='org/model'" in message


# --- config ---------------------------------------------------------------------------------------

def test_echo_fail_switch_is_echo_only():
    assert echo_config(ECHO_FAIL_FATAL_AFTER="2").echo_fail_fatal_after == 2
    assert echo_config().echo_fail_fatal_after is None
    with pytest.raises(ConfigError, match="ECHO_FAIL_FATAL_AFTER=0 is not allowed with ENGINE=vllm"):
        load_worker_config({"MODEL_NAME": "org/model", "ECHO_FAIL_FATAL_AFTER": "0"})
    with pytest.raises(ConfigError, match="ECHO_FAIL_FATAL_AFTER='-1' is not allowed"):
        echo_config(ECHO_FAIL_FATAL_AFTER="-1")


# --- arming the exit ------------------------------------------------------------------------------

class Exits:
    def __init__(self):
        self.codes = []
        self.done = threading.Event()

    def __call__(self, code):
        self.codes.append(code)
        self.done.set()


def test_fatal_exit_sets_the_sdk_flag_and_exits_1_once_no_job_is_in_progress():
    in_progress = threading.Semaphore(0)  # released = the failed job was posted
    posted = []
    exits = Exits()
    sdk_config = {"handler": None}

    def jobs_in_progress():
        if in_progress.acquire(blocking=False):
            posted.append(True)
        return 0 if posted else 1

    fatal = FatalExit(sdk_config, jobs_in_progress=jobs_in_progress, exit_process=exits, poll_s=0.01)
    fatal.trigger("the vLLM engine is dead")
    fatal.trigger("again")  # a second failing job does not arm a second exit
    assert sdk_config["refresh_worker"] is True
    assert fatal.reason == "the vLLM engine is dead"
    assert exits.codes == []  # the failed job is still being posted
    in_progress.release()
    assert exits.done.wait(10)
    fatal.watchdog.join(10)
    assert exits.codes == [EXIT_ENGINE_DEAD] == [1]


def test_fatal_exit_does_not_wait_forever_for_a_post_that_hangs():
    exits = Exits()
    fatal = FatalExit({}, jobs_in_progress=lambda: 1, exit_process=exits, post_grace_s=0.0, poll_s=0.01)
    fatal.trigger("the GPU reported a CUDA error")
    assert exits.done.wait(10)
    assert exits.codes == [1]
