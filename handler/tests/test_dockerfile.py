"""docker/worker.Dockerfile, parsed (no Docker engine here): pinned base, non-root, CMD, COPY sources."""

import re

from dockerfile_parse import DockerfileParser

from conftest import DOCKERFILE, REPO_ROOT, dockerfile_cmd


def parsed():
    return DockerfileParser(path=str(DOCKERFILE))


def instructions(name):
    return [item["value"] for item in parsed().structure if item["instruction"] == name]


def test_base_image_is_pinned_to_the_vllm_version_of_requirements():
    base = parsed().baseimage
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", base), base
    pins = dict(line.split("==") for line in (REPO_ROOT / "handler" / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert base.endswith(":v" + pins["vllm"])
    assert re.fullmatch(r"1\.\d+\.\d+", pins["runpod"])


def test_entrypoint_is_reset_and_cmd_runs_the_handler_unbuffered():
    assert instructions("ENTRYPOINT") == ["[]"]
    assert dockerfile_cmd() == ["python3", "-u", "handler/handler.py"]
    assert instructions("WORKDIR") == ["/app"]


def test_runs_as_a_non_root_user():
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")


def test_models_are_read_from_the_network_volume():
    env = parsed().envs
    assert env["HF_HUB_CACHE"] == "/runpod-volume/huggingface-cache/hub"
    assert env["HF_HOME"] == "/runpod-volume/huggingface-cache"
    assert env["ENGINE"] == "vllm"


def test_copy_sources_exist_and_requirements_are_installed():
    copies = instructions("COPY")
    assert copies
    for value in copies:
        *sources, _destination = value.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY source {source} is missing"
    assert any("-r handler/requirements.txt" in run for run in instructions("RUN"))
    # The handler's modules all travel with it: the image copies the whole handler folder.
    assert any(value.split()[0].rstrip("/") == "handler" for value in copies)
