"""MODEL_NAME found in the volume's Hugging Face cache as huggingface_hub finds it offline, in the layout
`npm run volume -- push-model` writes (snapshots hold the files, refs/<branch> names the commit)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, echo_config, worker_command, worker_env
from model_cache import ModelNotCached, check_model, find_cached_snapshot, repo_folder_name
from worker_config import load_worker_config

COMMIT = "a" * 40
OTHER = "b" * 40


def push(cache: Path, repo_id: str, commit: str = COMMIT, ref: str = "main", config: bool = True) -> Path:
    repo = cache / repo_folder_name(repo_id)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    if config:
        (snapshot / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (snapshot / "model.safetensors").write_bytes(b"\0" * 16)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


def test_folder_name_is_huggingface_hubs():
    assert repo_folder_name("Qwen/Qwen2.5-7B-Instruct-AWQ") == "models--Qwen--Qwen2.5-7B-Instruct-AWQ"


def test_refs_main_names_the_snapshot(tmp_path):
    snapshot = push(tmp_path, "org/model")
    found = find_cached_snapshot("org/model", None, str(tmp_path))
    assert (found.commit, found.revision, found.path) == (COMMIT, "main", str(snapshot))


def test_a_branch_reads_its_own_ref_and_a_commit_names_its_snapshot(tmp_path):
    push(tmp_path, "org/model")
    push(tmp_path, "org/model", commit=OTHER, ref="v2")
    assert find_cached_snapshot("org/model", "v2", str(tmp_path)).commit == OTHER
    assert find_cached_snapshot("org/model", OTHER, str(tmp_path)).commit == OTHER


@pytest.mark.parametrize("setup,revision,words", [
    (lambda c: None, None, "model org/model is not in the Hugging Face cache"),
    (lambda c: push(c, "org/model"), "v9", "has no revision 'v9'"),
    (lambda c: push(c, "org/model", config=False), None, "has no config.json"),
    (lambda c: (push(c, "org/model"), (c / repo_folder_name("org/model") / "refs" / "main").write_text(OTHER)), None,
     f"snapshot {OTHER} (revision main) is missing"),
])
def test_what_is_missing_is_named_with_the_command_that_fills_it(tmp_path, setup, revision, words):
    setup(tmp_path)
    with pytest.raises(ModelNotCached) as raised:
        find_cached_snapshot("org/model", revision, str(tmp_path))
    assert words in str(raised.value)
    assert "npm run volume -- push-model org/model" in str(raised.value)


def test_vllm_offline_fails_on_a_missing_model_online_leaves_it_to_the_download(tmp_path):
    config = load_worker_config({"MODEL_NAME": "org/missing", "HF_HUB_CACHE": str(tmp_path)})
    with pytest.raises(ModelNotCached, match="org/missing"):
        check_model(config, {"HF_HUB_OFFLINE": "1"})
    assert check_model(config, {}) is None
    push(tmp_path, "org/present")
    found = check_model(load_worker_config({"MODEL_NAME": "org/present", "HF_HUB_CACHE": str(tmp_path)}),
                        {"HF_HUB_OFFLINE": "1"})
    assert found is not None and found.commit == COMMIT


def test_echo_looks_the_stood_in_model_up_and_needs_none(tmp_path):
    assert check_model(echo_config(HF_HUB_CACHE=str(tmp_path), ECHO_CACHED_MODEL="org/m"), {"HF_HUB_OFFLINE": "1"}) is None
    push(tmp_path, "org/m")
    found = check_model(echo_config(HF_HUB_CACHE=str(tmp_path), ECHO_CACHED_MODEL="org/m"), {})
    assert found is not None and found.path.endswith(f"snapshots/{COMMIT}")


def run_worker(job, **env):
    return subprocess.run(worker_command() + ["--test_input", json.dumps(job)], cwd=REPO_ROOT,
                          env=worker_env(**env), capture_output=True, text=True, timeout=60)


def test_the_worker_stops_before_the_engine_naming_a_model_missing_offline(tmp_path):
    result = run_worker({"input": {}}, ENGINE="vllm", MODEL_NAME="org/not-pushed", HF_HUB_OFFLINE="1",
                        HF_HUB_CACHE=str(tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "model org/not-pushed is not in the Hugging Face cache" in result.stderr
    assert "npm run volume -- push-model org/not-pushed" in result.stderr
    assert "engine start failed" not in result.stderr  # it never got that far (no vllm is installed here)


def test_the_echo_worker_says_which_snapshot_it_found(tmp_path):
    push(tmp_path, "org/tiny-chat")
    job = {"input": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}}
    result = run_worker(job, ENGINE="echo", ECHO_CACHED_MODEL="org/tiny-chat", HF_HUB_CACHE=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"model org/tiny-chat found in the Hugging Face cache: snapshot {COMMIT} (revision main)"
            in result.stderr)
