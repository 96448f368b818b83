"""The runpod SDK version the image pins has every SDK feature the worker relies on (run against the
installed SDK, which must be that same version). runpod 1.10.0 is the newest that pip can install with
vLLM 0.33.0 (1.10.1 and later need fastapi >= 0.138.1, vLLM 0.33.0 needs < 0.137); test_dependencies.py
runs pip's resolver over the image's pins."""

import asyncio
import inspect
from pathlib import Path

import runpod
from runpod.serverless.modules import rp_job, rp_scale
from runpod.serverless.modules.rp_handler import is_generator
from runpod.serverless.modules.worker_state import JobsProgress

from conftest import REPO_ROOT, echo_config
from engines.echo import EchoEngine
from job_handler import JobHandler


def pins(path: Path) -> dict:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if "==" in line)


def test_the_installed_sdk_is_the_one_the_image_and_the_dev_venv_pin():
    image = pins(REPO_ROOT / "handler" / "requirements.txt")["runpod"]
    dev = pins(REPO_ROOT / "handler" / "requirements-dev.txt")["runpod"]
    assert image == dev == runpod.version.__version__ == "1.10.0"


def test_per_job_stop_exists_long_polling_job_stop_and_cancelling_the_jobs_task(monkeypatch):
    # Per-job stop came in runpod 1.10.0: the worker long-polls /job-stop/ and cancels that job's task.
    monkeypatch.setattr(rp_job, "JOB_GET_URL", "http://127.0.0.1:9/v2/job-take/w1?gpu=x")
    assert rp_job._job_stop_url() == "http://127.0.0.1:9/v2/job-stop/w1?gpu=x"
    assert inspect.iscoroutinefunction(rp_job.get_stop_signals)
    scaler = rp_scale.JobScaler({"handler": lambda job: None, "concurrency_modifier": lambda current: 7})
    assert scaler.concurrency_modifier(1) == 7  # our MAX_CONCURRENCY reaches the SDK

    async def stop_one():
        task = asyncio.create_task(asyncio.sleep(60))
        scaler.jobs_tasks["job-x"] = task
        assert await scaler.stop_job("job-x") is True
        await asyncio.wait([task])
        assert task.cancelled()
        assert await scaler.stop_job("job-unknown") is False

    asyncio.run(stop_one())


def test_generator_handler_is_streamed_aggregated_and_refresh_worker_asks_to_stop_the_pod(monkeypatch):
    config = echo_config()
    handler = JobHandler(EchoEngine("echo", config.max_model_len), config).handle
    assert is_generator(handler)
    streamed, done = [], []

    async def stream_result(_session, output, _job):
        streamed.append(output)

    async def send_result(_session, result, _job, is_stream=False):
        done.append((result, is_stream))

    monkeypatch.setattr(rp_job, "stream_result", stream_result)
    monkeypatch.setattr(rp_job, "send_result", send_result)
    sdk_config = {"handler": handler, "return_aggregate_stream": True, "refresh_worker": True}
    job = {"id": "sdk-f", "input": {"messages": [{"role": "user", "content": "a b"}]}}
    asyncio.run(rp_job.handle_job(None, sdk_config, job))
    [(result, is_stream)] = done
    assert is_stream is True
    assert result["stopPod"] is True  # what worker_exit.FatalExit relies on
    assert result["output"] == [streamed[0]["output"]]
    assert result["output"][0]["choices"][0]["tokens"] == ["a b"]


def test_the_jobs_in_progress_tracker_the_exit_watchdog_reads():
    assert isinstance(JobsProgress().get_job_count(), int)
