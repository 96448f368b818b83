"""runpod-python's client, ``runpod.Endpoint``, against the emulator started by ``npm run emulator``.

Run by test/clients/runpod-python.test.ts, which starts the command and passes where it listens in the
environment:
EMULATOR_SERVERLESS_URL, RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID. Every call goes through the SDK's own code
(requests, its headers, its empty-bodied POSTs) to the emulator and a real SDK worker running the handler.
"""
import os
import time

import pytest
import requests

SERVERLESS_URL = os.environ.get("EMULATOR_SERVERLESS_URL", "")
if not SERVERLESS_URL.startswith("http://127.0.0.1:"):
    raise SystemExit("run through test/clients/runpod-python.test.ts: EMULATOR_SERVERLESS_URL must name the emulator on 127.0.0.1")

# Read by runpod at import time; the client only ever talks to the loopback emulator.
os.environ["RUNPOD_ENDPOINT_BASE_URL"] = SERVERLESS_URL
import runpod  # noqa: E402

runpod.endpoint_url_base = SERVERLESS_URL
runpod.api_key = os.environ["RUNPOD_API_KEY"]
ENDPOINT_ID = os.environ["RUNPOD_ENDPOINT_ID"]

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def chat(text, **extra):
    return {"messages": [{"role": "user", "content": text}], "temperature": 0, **extra}


def output_text(output):
    """The text of a job that does not stream, in worker-vllm's shape ``[{choices: [{tokens: [text]}], usage}]``."""
    assert isinstance(output, list) and len(output) == 1, output
    assert set(output[0]["usage"]) == {"input", "output"}, output
    return "".join(output[0]["choices"][0]["tokens"])


def long_chat():
    # The echo engine answers word by word at ECHO_TOKEN_DELAY_MS: 300 words run for seconds.
    return chat(" ".join(f"w{i}" for i in range(300)), max_tokens=300)


def wait_status(job, wanted, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    status = job.status()
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        status = job.status()
    assert status == wanted
    return status


@pytest.fixture(scope="module")
def endpoint():
    return runpod.Endpoint(ENDPOINT_ID)


def test_purge_queue_drops_the_jobs_queued_during_a_cold_start(endpoint):
    # First in this file: the endpoint has no worker yet (or waits for scale to zero), so the jobs stay
    # queued through the worker's cold start (seconds), and one worker takes many jobs at once otherwise.
    deadline = time.monotonic() + 30
    while endpoint.health()["workers"]["ready"] + endpoint.health()["workers"]["initializing"] > 0:
        assert time.monotonic() < deadline, endpoint.health()
        time.sleep(0.2)
    queued = [endpoint.run(chat(f"queued {i}")) for i in range(2)]
    # The SDK posts with Content-Type: application/json and no body (issue 10: the emulator answered 400).
    assert endpoint.purge_queue() == {"removed": 2, "status": "completed"}
    for job in queued:
        with pytest.raises(requests.HTTPError) as gone:
            job.status()
        assert gone.value.response.status_code == 404
    assert endpoint.health()["jobs"]["inQueue"] == 0


def test_health_reports_jobs_and_workers(endpoint):
    health = endpoint.health()
    assert set(health["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert set(health["workers"]) >= {"idle", "initializing", "ready", "running", "throttled", "unhealthy"}


def test_run_sync_returns_the_output(endpoint):
    output = endpoint.run_sync(chat("one two three four five", max_tokens=3), timeout=60)
    assert output_text(output) == "one two three"


def test_run_status_and_output(endpoint):
    job = endpoint.run(chat("polled answer here", max_tokens=8))
    assert job.status() in {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}
    assert output_text(job.output(timeout=60)) == "polled answer here"
    assert job.status() == "COMPLETED"


def test_stream_yields_the_deltas_in_order(endpoint):
    job = endpoint.run(chat("streamed through runpod python", max_tokens=16, stream=True))
    chunks = list(job.stream())
    assert len(chunks) > 1
    # worker-vllm's stream shape: each chunk {"choices": [{"tokens": [...]}], "usage": ...}.
    assert "".join("".join(chunk["choices"][0]["tokens"]) for chunk in chunks) == "streamed through runpod python"
    assert job.status() == "COMPLETED"


def test_cancel_stops_a_running_job(endpoint):
    job = endpoint.run(long_chat())
    wait_status(job, "IN_PROGRESS")
    # Also an empty-bodied JSON POST.
    answer = job.cancel()
    assert answer == {"id": job.job_id, "status": "CANCELLED"}
    assert job.status() == "CANCELLED"
