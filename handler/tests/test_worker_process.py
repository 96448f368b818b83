"""The real worker process, as the image runs it (its CMD), with the real runpod SDK.

1. `--test_input`: one local job, exit status 0 or 1.
2. The SDK's production loop against a loopback stand-in for RunPod's worker protocol
   (job-take, job-stream, job-done, job-stop, ping), to pin down what the platform receives.
"""

import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from conftest import REPO_ROOT, worker_command, worker_env

FAKE_VLLM = Path(__file__).parent / "fakes"


def run_test_input(job, **env):
    return subprocess.run(worker_command() + ["--test_input", json.dumps(job)], cwd=REPO_ROOT,
                          env=worker_env(**env), capture_output=True, text=True, timeout=60)


def test_test_input_runs_one_job_and_prints_the_output():
    result = run_test_input({"input": {"messages": [{"role": "user", "content": "hello volume"}],
                                       "max_tokens": 8, "temperature": 0}})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'choices': [{'tokens': ['hello volume'], 'finish_reason': 'stop'}]" in result.stdout


def test_test_input_with_bad_input_exits_1_naming_the_field():
    result = run_test_input({"input": {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}})
    assert result.returncode == 1
    assert "input.max_tokens: 0 is not allowed" in result.stdout


def test_bad_env_stops_the_worker_naming_the_variable():
    result = run_test_input({"input": {}}, MAX_CONCURRENCY="many")
    assert result.returncode == 2
    assert "MAX_CONCURRENCY='many' is not allowed" in result.stderr


def test_test_input_with_a_fatal_engine_error_exits_1_saying_the_worker_is_replaced():
    result = run_test_input({"input": {"messages": [{"role": "user", "content": "x"}]}},
                            ECHO_FAIL_FATAL_AFTER="0")
    assert result.returncode == 1
    assert "engine: the GPU reported a CUDA error (RuntimeError: CUDA error:" in result.stdout
    assert "send the request again" in result.stdout


def test_engine_that_does_not_start_exits_3_with_one_line_naming_the_settings():
    missing = "/runpod-volume/no-such-model-dir"
    result = run_test_input({"input": {}}, ENGINE="vllm", MODEL_NAME=missing, GPU_MEMORY_UTILIZATION="0.8",
                            PYTHONPATH=str(FAKE_VLLM))  # the fake vllm: the real one needs a GPU
    assert result.returncode == 3, result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if "engine start failed" in line]
    assert "FileNotFoundError" in line and "network volume is mounted" in line
    assert f"MODEL_NAME={missing!r}" in line and "GPU_MEMORY_UTILIZATION=0.8" in line
    assert "Traceback" not in result.stderr


def test_the_image_command_runs_the_vllm_engine_path_against_the_strict_vllm_fake():
    # ENGINE=vllm end to end in the worker process: engine args, SamplingParams, TokensPrompt and the
    # output all go through the fake recorded from vLLM 0.33.0, which refuses what vLLM refuses.
    job = {"input": {"messages": [{"role": "user", "content": "hi"}], "model": "llama3:8b",
                     "format": "json", "max_tokens": 8, "sampling_params": {"top_k": 4}}}
    result = run_test_input(job, ENGINE="vllm", MODEL_NAME="org/model", MODEL_ALIASES="llama3:8b",
                            PYTHONPATH=str(FAKE_VLLM))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'choices': [{'tokens': ['Hello, world'], 'finish_reason': 'stop'}]" in result.stdout
    assert "'model': 'org/model'" in result.stdout


def test_committed_test_input_json_is_valid():
    job = json.loads((REPO_ROOT / "handler" / "test_input.json").read_text())
    result = run_test_input(job)
    assert result.returncode == 0, result.stdout + result.stderr


class FakeRunPod:
    """Just enough of the worker protocol, on 127.0.0.1, recording every post."""

    def __init__(self, jobs):
        self.jobs = list(jobs)
        self.stop_ids = []
        self.streams = {}
        self.done = {}
        self.takes = []
        self.logs = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = urlparse(self.path).path
                if "/job-take" in path:
                    with fake.lock:
                        fake.takes.append(self.path)
                        batch, fake.jobs = fake.jobs, []
                    if batch:
                        return self._send(200, batch if "/job-take-batch/" in path else batch[0])
                    time.sleep(0.3)  # a short long-poll, so an idle worker does not spin
                    return self._send(204)
                if "/job-stop" in path:
                    with fake.lock:
                        ids, fake.stop_ids = fake.stop_ids, []
                    if ids:
                        return self._send(200, {"jobsToStop": ids})
                    time.sleep(0.3)
                    return self._send(204)
                return self._send(200, {})  # ping

            def do_POST(self):
                parsed = urlparse(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                job_id = parsed.path.rstrip("/").split("/")[-1]
                with fake.lock:
                    if "/job-stream/" in parsed.path:
                        fake.streams.setdefault(job_id, []).append(body)
                    elif "/job-done/" in parsed.path:
                        fake.done[job_id] = {"body": body, "query": parsed.query}
                self._send(200, {})

        return Handler

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return
            time.sleep(0.05)
        with self.lock:  # the SDK's DEBUG lines (polls, heartbeats) would push out what matters
            lines = [line for line in self.logs if '"level": "DEBUG"' not in line]
        raise AssertionError("the worker did not get there in time; its log without the SDK's DEBUG "
                             "lines:\n" + "".join(lines[-150:]))


@pytest.fixture
def worker_loop():
    started = []

    def start(jobs, **env):
        fake = FakeRunPod(jobs)
        fake.thread.start()
        base, query = fake.base, "?gpu=none"
        process = subprocess.Popen(worker_command(), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=worker_env(**{
            "RUNPOD_WEBHOOK_GET_JOB": f"{base}/_worker/job-take/$ID{query}",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/_worker/job-done/$RUNPOD_POD_ID/$ID{query}",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/_worker/job-stream/$RUNPOD_POD_ID/$ID{query}",
            "RUNPOD_WEBHOOK_PING": f"{base}/_worker/ping/$RUNPOD_POD_ID{query}",
            "RUNPOD_PING_INTERVAL": "1000", "RUNPOD_AI_API_KEY": "worker-key", "RUNPOD_POD_ID": "worker-1",
            "RUNPOD_ENDPOINT_ID": "ep-test", **env}))
        started.append((fake, process))

        def read_logs():
            for line in process.stdout:
                with fake.lock:
                    fake.logs.append(line)

        reader = threading.Thread(target=read_logs, daemon=True)
        reader.start()
        return fake, process

    yield start
    for fake, process in started:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        fake.server.shutdown()
        fake.server.server_close()


CHAT = [{"role": "user", "content": "one two three four five"}]


def test_real_loop_streams_yields_and_aggregates_them_as_the_output(worker_loop):
    fake, _ = worker_loop([
        {"id": "job-stream", "input": {"messages": CHAT, "max_tokens": 10, "stream": True}},
        {"id": "job-plain", "input": {"messages": CHAT, "max_tokens": 2}},
        {"id": "job-bad", "input": {"messages": CHAT, "max_tokens": "lots"}},
    ], MAX_CONCURRENCY="3", STREAM_BATCH_TOKENS="2")
    fake.wait_for(lambda: len(fake.done) == 3)

    # MAX_CONCURRENCY > 1 makes the SDK take jobs in batches.
    assert any("/job-take-batch/" in take and "batch_size=3" in take for take in fake.takes)

    streamed = [post["output"] for post in fake.streams["job-stream"]]
    assert [chunk["choices"][0]["tokens"][0] for chunk in streamed] == ["one", " two three", " four five"]
    assert streamed[-1]["choices"][0]["finish_reason"] == "stop"
    assert fake.done["job-stream"]["body"] == {"output": streamed}
    assert "isStream=true" in fake.done["job-stream"]["query"]

    # A non-streaming job from a generator handler: one yield, so the output is a one-element list.
    assert fake.done["job-plain"]["body"]["output"] == [{
        "choices": [{"tokens": ["one two"], "finish_reason": "length"}],
        "usage": {"input": 5, "output": 2}, "model": "echo"}]

    # An error yield fails the job with the message as a string.
    assert fake.done["job-bad"]["body"] == {
        "error": "input.max_tokens: 'lots' is not allowed; expected an integer from 1 to 8192 (max_model_len)"}


def test_real_loop_stops_a_job_on_the_stop_channel_and_aborts_the_engine(worker_loop):
    fake, _ = worker_loop([
        {"id": "job-long", "input": {"messages": [{"role": "user", "content": "w " * 400}],
                                     "max_tokens": 400, "stream": True}},
    ], ECHO_TOKEN_DELAY_MS="20", STREAM_BATCH_TOKENS="1")
    fake.wait_for(lambda: len(fake.streams.get("job-long", [])) >= 2)
    with fake.lock:
        fake.stop_ids.append("job-long")
    fake.wait_for(lambda: any("job job-long: stopped, aborting the engine request" in line
                              for line in fake.logs))
    # The engine's own log line: the abort reached the engine, not just the handler's except clause.
    fake.wait_for(lambda: any("echo: abort job-long" in line for line in fake.logs))
    with fake.lock:
        posted = len(fake.streams["job-long"])
        assert "job-long" not in fake.done  # a stopped job posts no result
    assert posted < 400


def processes_with_env(marker):
    """Live processes whose environment holds `marker` (the worker and anything it forked)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def test_real_loop_posts_the_fatal_job_with_stop_pod_then_the_worker_exits_1(worker_loop):
    pod_id = f"worker-fatal-{uuid.uuid4().hex[:8]}"
    fake, process = worker_loop([
        {"id": "job-fatal", "input": {"messages": CHAT, "max_tokens": 10, "stream": True}},
    ], ECHO_FAIL_FATAL_AFTER="0", MAX_CONCURRENCY="1", RUNPOD_POD_ID=pod_id)
    assert process.wait(timeout=60) == 1
    with fake.lock:
        done = fake.done["job-fatal"]
        logs = "".join(fake.logs)
    # The SDK posted the failure before the process ended, with stopPod (its refresh_worker flag).
    assert done["body"]["stopPod"] is True
    assert set(done["body"]) == {"error", "stopPod"}
    assert done["body"]["error"].startswith("engine: the GPU reported a CUDA error (RuntimeError: CUDA error:")
    assert "This worker is exiting so RunPod replaces it" in done["body"]["error"]
    assert "job-fatal" not in fake.streams  # nothing was generated, so nothing was streamed
    assert "worker: exiting with status 1 (the GPU reported a CUDA error)" in logs
    # Nothing the worker started (the SDK's heartbeat process) outlives it.
    assert processes_with_env(f"RUNPOD_POD_ID={pod_id}") == []
