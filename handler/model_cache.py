"""Finds the worker's model in the Hugging Face cache on the volume, as huggingface_hub does offline.

With HF_HUB_OFFLINE=1 (the worker image sets it) vLLM loads a repo id through huggingface_hub's cache only:
  <HF_HUB_CACHE>/models--<org>--<name>/refs/<revision>       the commit a branch or tag points at
  <HF_HUB_CACHE>/models--<org>--<name>/snapshots/<commit>/   the model's files (links to blobs/, or the files
                                                             themselves where links cannot be made: what
                                                             `npm run volume -- push-model` writes over S3)
A 40-hex revision names the snapshot directly. Anything missing there is a model vLLM would fail to load after
minutes of start-up, so the worker checks it first and stops with a message that names the model, the path it
looked at and the command that fills it. The echo engine needs no weights: it only logs what it found.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional

from worker_config import WorkerConfig

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TRUE = ("1", "true", "yes", "on")


class ModelNotCached(RuntimeError):
    """MODEL_NAME cannot be loaded from the cache; the message says what is missing and how to fill it."""


@dataclass(frozen=True)
class CachedModel:
    repo_id: str
    revision: str
    commit: str
    path: str
    """The snapshot folder vLLM loads."""


def repo_folder_name(repo_id: str) -> str:
    """huggingface_hub's folder name for a model repo: `models--org--name`."""
    return "models--" + "--".join(repo_id.split("/"))


def _push_hint(repo_id: str, revision: str) -> str:
    at = "" if revision == "main" else f"@{revision}"
    return f"push it with `npm run volume -- push-model {repo_id}{at}`"


def find_cached_snapshot(repo_id: str, revision: Optional[str], cache_dir: str) -> CachedModel:
    """The snapshot folder huggingface_hub would use offline for (repo_id, revision), or ModelNotCached."""
    rev = revision or "main"
    repo_dir = os.path.join(cache_dir, repo_folder_name(repo_id))
    if not os.path.isdir(repo_dir):
        raise ModelNotCached(f"model {repo_id} is not in the Hugging Face cache {cache_dir} "
                             f"(no {repo_folder_name(repo_id)}/ there): {_push_hint(repo_id, rev)}")
    if _COMMIT.match(rev):
        commit = rev
    else:
        ref_file = os.path.join(repo_dir, "refs", rev)
        if not os.path.isfile(ref_file):
            raise ModelNotCached(f"model {repo_id} has no revision {rev!r} in {cache_dir} "
                                 f"(no refs/{rev}): {_push_hint(repo_id, rev)}")
        with open(ref_file, "r", encoding="utf-8") as handle:
            commit = handle.read().strip()
    snapshot = os.path.join(repo_dir, "snapshots", commit)
    if not os.path.isdir(snapshot):
        raise ModelNotCached(f"model {repo_id}: snapshot {commit} (revision {rev}) is missing from {repo_dir}/snapshots: "
                             f"{_push_hint(repo_id, rev)}")
    if not os.path.isfile(os.path.join(snapshot, "config.json")):
        raise ModelNotCached(f"model {repo_id}: snapshot {commit} has no config.json, so vLLM cannot load it "
                             f"(an interrupted upload?): {_push_hint(repo_id, rev)} again")
    return CachedModel(repo_id=repo_id, revision=rev, commit=commit, path=snapshot)


def hub_offline(env: Mapping[str, str]) -> bool:
    return (env.get("HF_HUB_OFFLINE") or "").strip().lower() in _TRUE


def check_model(config: WorkerConfig, env: Mapping[str, str]) -> Optional[CachedModel]:
    """What the worker loads, checked before the engine starts.

    vllm: a repo id must be in the cache when the hub is offline (ModelNotCached otherwise); online, a missing one
    is left to vLLM to download (None); an absolute MODEL_NAME is checked by the engine's start.
    echo: the model it stands in for (ECHO_CACHED_MODEL, or MODEL_NAME when that is a repo id) is looked up the
    same way and returned when found; nothing is required.
    """
    if config.engine == "echo":
        name = config.echo_cached_model or (config.model_name if "/" in config.model_name else None)
        if name is None or os.path.isabs(name):
            return None
        try:
            return find_cached_snapshot(name, config.model_revision, config.hf_hub_cache)
        except ModelNotCached:
            return None
    name = config.model_name
    if os.path.isabs(name):
        return None  # a folder on the volume: the engine's own start checks it (vllm_engine.resolve_model)
    try:
        return find_cached_snapshot(name, config.model_revision, config.hf_hub_cache)
    except ModelNotCached:
        if hub_offline(env):
            raise
        return None
