"""The vLLM engine against a fake `vllm` module: what reaches SamplingParams, abort on cancel, BOS."""

import asyncio

import pytest

from conftest import run_job
from worker_config import load_worker_config

@pytest.fixture
def vllm_handler(fake_vllm, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    from engines import build_engine
    from job_handler import make_handler

    config = load_worker_config({"MODEL_NAME": "org/model", "MAX_MODEL_LEN": "64",
                                 "GPU_MEMORY_UTILIZATION": "0.8", "STREAM_BATCH_TOKENS": "2"})
    return make_handler(build_engine(config), config)


USER = [{"role": "user", "content": "hi"}]


async def test_engine_args_come_from_env(fake_vllm, vllm_handler):
    [args] = fake_vllm.RECORD["engine_args"]
    assert args["model"] == "org/model"
    assert args["max_model_len"] == 64
    assert args["gpu_memory_utilization"] == 0.8
    assert args["download_dir"] == "/runpod-volume/huggingface-cache/hub"


async def test_max_tokens_always_set_and_temperature_zero_kept(fake_vllm, vllm_handler):
    [output] = await run_job(vllm_handler, {"messages": USER, "temperature": 0})
    [sampling] = fake_vllm.RECORD["sampling"]
    assert sampling["temperature"] == 0.0
    prompt_tokens = output["usage"]["prompt_tokens"]
    assert sampling["max_tokens"] == 64 - prompt_tokens  # no max_tokens given: what the context leaves
    assert "top_p" not in sampling and "stop" not in sampling and "seed" not in sampling
    assert output["response"] == "Hello, world"
    assert output["usage"]["completion_tokens"] == 3


async def test_top_p_stop_seed_and_max_tokens_are_passed(fake_vllm, vllm_handler):
    [output] = await run_job(vllm_handler, {"messages": USER, "max_tokens": 2, "temperature": 0.3,
                                            "top_p": 0.9, "stop": "###", "seed": 7})
    [sampling] = fake_vllm.RECORD["sampling"]
    assert {k: sampling[k] for k in ("max_tokens", "temperature", "top_p", "stop", "seed")} == {
        "max_tokens": 2, "temperature": 0.3, "top_p": 0.9, "stop": ["###"], "seed": 7}
    assert output["finish_reason"] == "length"
    assert output["response"] == "Hello,"


async def test_prompt_is_token_ids_with_exactly_one_bos(fake_vllm, vllm_handler):
    await run_job(vllm_handler, {"messages": USER, "max_tokens": 5}, job_id="job-bos")
    [call] = fake_vllm.RECORD["generate"]
    ids = call["prompt"]["prompt_token_ids"]
    assert ids[0] == 1 and 1 not in ids[1:]
    assert call["request_id"] == "job-bos"


async def test_streaming_deltas_are_batched(fake_vllm, vllm_handler):
    outputs = await run_job(vllm_handler, {"messages": USER, "max_tokens": 10, "stream": True})
    assert [o["text"] for o in outputs] == ["Hello", ", world"]
    assert outputs[-1]["finish_reason"] == "stop"


async def test_cancel_calls_abort_with_the_job_id(fake_vllm, vllm_handler):
    fake_vllm.SCRIPT.update(tokens=["x"] * 200, delay_s=0.01)
    first = asyncio.Event()
    received = []

    async def consume():
        async for output in vllm_handler({"id": "job-9", "input": {"messages": USER, "max_tokens": 20,
                                                              "stream": True}}):
            received.append(output)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert received == [{"text": "x"}]
    assert fake_vllm.RECORD["abort"] == ["job-9"]


def test_absolute_model_path_must_exist(fake_vllm, tmp_path):
    from engines import build_engine

    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="network volume mounted"):
        build_engine(load_worker_config({"MODEL_NAME": str(missing)}))


class PlainTokenizer:
    """No BOS in the template; the tokenizer adds one by default (e.g. a Mistral-style setup)."""

    bos_token_id = 1

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return "".join(m["content"] for m in messages)

    def encode(self, text, add_special_tokens=True):
        return ([1] if add_special_tokens else []) + [ord(c) for c in text]


class NoBosTokenizer(PlainTokenizer):
    """Qwen-style: no BOS at all."""

    bos_token_id = None


def test_bos_added_once_when_the_template_leaves_it_out():
    from engines.vllm_engine import build_prompt_token_ids

    assert build_prompt_token_ids(PlainTokenizer(), [{"role": "user", "content": "ab"}]) == [1, 97, 98]
    assert build_prompt_token_ids(NoBosTokenizer(), [{"role": "user", "content": "ab"}]) == [97, 98]
