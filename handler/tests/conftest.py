"""Shared test helpers: a config from a dict, running the handler to the end, the image's command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from dockerfile_parse import DockerfileParser

from worker_config import WorkerConfig, load_worker_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "docker" / "worker.Dockerfile"
# A stand-in `vllm` package that records what reaches it (tests/fakes/vllm).
FAKES = Path(__file__).parent / "fakes"


def echo_config(**env: str) -> WorkerConfig:
    return load_worker_config({"ENGINE": "echo", **env})


async def run_job(handler: Any, job_input: Any, job_id: str = "job-1") -> List[Dict[str, Any]]:
    return [output async for output in handler({"id": job_id, "input": job_input})]


def dockerfile_cmd() -> List[str]:
    """The worker image's CMD, exec form; the worker-process tests run exactly this command."""
    parser = DockerfileParser(path=str(DOCKERFILE))
    cmds = [item["value"] for item in parser.structure if item["instruction"] == "CMD"]
    assert cmds, "docker/worker.Dockerfile has no CMD"
    import json

    return json.loads(cmds[-1])


def worker_command() -> List[str]:
    """The image's CMD with its `python3` replaced by the test virtualenv's interpreter."""
    command = dockerfile_cmd()
    return [sys.executable] + command[1:]


def worker_env(**extra: str) -> Dict[str, str]:
    """A worker environment that cannot reach the internet: no SDK fitness checks, no GPU check."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RUNPOD_")}
    env.update({
        "ENGINE": "echo",
        "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_SKIP_GPU_CHECK": "true",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def fake_vllm(monkeypatch):
    """The fake `vllm` imported fresh, its records cleared and its script reset; removed again afterwards."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in [n for n in sys.modules if n == "vllm" or n.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    import vllm

    for calls in vllm.RECORD.values():
        calls.clear()
    vllm.SCRIPT.clear()
    vllm.SCRIPT.update(vllm.DEFAULT_SCRIPT)
    yield vllm
    for name in [n for n in sys.modules if n == "vllm" or n.startswith("vllm.")]:
        del sys.modules[name]
