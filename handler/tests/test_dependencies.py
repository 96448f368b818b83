"""pip's own resolver over exactly what docker/worker.Dockerfile installs on top of its base image.

The base image (vllm/vllm-openai:vX.Y.Z) already holds vLLM X.Y.Z; the Dockerfile's `pip install` lines
add their requirements on top. A set pip cannot resolve fails `docker build` (runpod 1.12.0 with vLLM
0.33.0: fastapi >= 0.141.1 against < 0.137), so this runs `pip install --dry-run --ignore-installed
--report -` (metadata only, nothing installed; PyPI must be reachable) over the base image's vLLM pin
plus those lines, and the same with the pins this project had before, which must stay impossible.
Resolved for this interpreter's Python on this machine (linux x86_64, like the image).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from dockerfile_parse import DockerfileParser

from conftest import DOCKERFILE, REPO_ROOT

RESOLVE_TIMEOUT_S = 900
PINS_THAT_DID_NOT_RESOLVE = {"runpod": "1.12.0"}


def base_vllm_pin() -> str:
    base = DockerfileParser(path=str(DOCKERFILE)).baseimage
    match = re.fullmatch(r"vllm/vllm-openai:v(\d+\.\d+\.\d+)", base)
    assert match, f"the worker image's base {base!r} is not a pinned vllm/vllm-openai release"
    return f"vllm=={match.group(1)}"


def requirements_installed_by_the_dockerfile() -> List[str]:
    """The requirement lines of every `pip install` in the Dockerfile: `-r` files read, specs kept."""
    requirements: List[str] = []
    for item in DockerfileParser(path=str(DOCKERFILE)).structure:
        if item["instruction"] != "RUN" or "pip install" not in item["value"]:
            continue
        words = shlex.split(item["value"].split("pip install", 1)[1].split("&&")[0])
        index = 0
        while index < len(words):
            word = words[index]
            if word in ("-r", "--requirement"):
                path = REPO_ROOT / words[index + 1]
                requirements += [line.split("#")[0].strip() for line in path.read_text().splitlines()
                                 if line.split("#")[0].strip()]
                index += 2
                continue
            if not word.startswith("-"):
                requirements.append(word)
            index += 1
    assert requirements, "docker/worker.Dockerfile installs nothing with pip"
    return requirements


def start_resolver(requirements: List[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--disable-pip-version-check", "--no-input", "--report", "-", *requirements]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> Tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=RESOLVE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"pip's resolver ran over {RESOLVE_TIMEOUT_S} s (is PyPI reachable?)\n{err[-2000:]}")
    return process.returncode, out, err


def with_pins(requirements: List[str], pins: Dict[str, str]) -> List[str]:
    result = []
    for line in requirements:
        name = re.split(r"[=<>!~ ;\[]", line, 1)[0].lower()
        result.append(f"{name}=={pins[name]}" if name in pins else line)
    return result


def test_the_images_pins_resolve_with_the_base_images_vllm_and_the_old_ones_did_not():
    requirements = [base_vllm_pin()] + requirements_installed_by_the_dockerfile()
    assert any(r.startswith("runpod==") for r in requirements)
    old = with_pins(requirements, PINS_THAT_DID_NOT_RESOLVE)
    assert old != requirements
    # Both at once: each takes minutes of index and metadata reads.
    current_run, old_run = start_resolver(requirements), start_resolver(old)
    code, out, err = finish(current_run)
    old_code, _, old_err = finish(old_run)

    assert code == 0, f"pip cannot install what the worker image installs: {requirements}\n{err[-3000:]}"
    report = json.loads(out)
    installed = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report["install"]}
    for line in requirements:
        name, version = line.split("==")
        assert installed[name.lower()] == version, (name, installed.get(name.lower()))
    fastapi = tuple(int(part) for part in installed["fastapi"].split(".")[:2])
    assert (0, 133) <= fastapi < (0, 137), installed["fastapi"]  # vLLM 0.33.0's own range

    assert old_code != 0, f"the old pins {old} resolved after all"
    assert "ResolutionImpossible" in old_err, old_err[-3000:]
