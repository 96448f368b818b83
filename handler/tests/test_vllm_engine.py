"""The vLLM engine against the strict vLLM 0.33 fake: what reaches SamplingParams, the prompt as a
TokensPrompt with one BOS, abort on cancel, JSON output, and each finish reason and error as vLLM means it."""

import asyncio
import json

import pytest

from conftest import run_job
from worker_config import load_worker_config

@pytest.fixture
def vllm_handler(fake_vllm, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    from engines import build_engine
    from job_handler import JobHandler

    config = load_worker_config({"MODEL_NAME": "org/model", "MAX_MODEL_LEN": "64",
                                 "GPU_MEMORY_UTILIZATION": "0.8", "STREAM_BATCH_TOKENS": "2"})
    return JobHandler(build_engine(config), config).handle


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
    prompt_tokens = output["usage"]["input"]
    assert sampling["max_tokens"] == 64 - prompt_tokens  # no max_tokens given: what the context leaves
    assert set(sampling) == {"max_tokens", "temperature", "output_kind"}
    assert output["choices"] == [{"tokens": ["Hello, world"], "finish_reason": "stop"}]
    assert output["usage"]["output"] == 3


async def test_top_p_stop_seed_and_max_tokens_are_passed(fake_vllm, vllm_handler):
    [output] = await run_job(vllm_handler, {"messages": USER, "max_tokens": 2, "temperature": 0.3,
                                            "top_p": 0.9, "stop": "###", "seed": 7})
    [sampling] = fake_vllm.RECORD["sampling"]
    assert {k: sampling[k] for k in ("max_tokens", "temperature", "top_p", "stop", "seed")} == {
        "max_tokens": 2, "temperature": 0.3, "top_p": 0.9, "stop": ["###"], "seed": 7}
    assert output["choices"] == [{"tokens": ["Hello,"], "finish_reason": "length"}]


async def test_prompt_is_token_ids_with_exactly_one_bos(fake_vllm, vllm_handler):
    await run_job(vllm_handler, {"messages": USER, "max_tokens": 5}, job_id="job-bos")
    [call] = fake_vllm.RECORD["generate"]
    assert call["typed_prompt"]  # vllm.TokensPrompt, not a hand-written dict
    assert set(call["prompt"]) == {"prompt_token_ids"}
    ids = call["prompt"]["prompt_token_ids"]
    assert ids[0] == 1 and 1 not in ids[1:]
    assert call["request_id"] == "job-bos"


async def test_a_raw_prompt_reaches_vllm_as_text_tokenized_without_a_chat_template(fake_vllm, vllm_handler):
    # worker-vllm's `prompt` without apply_chat_template: vLLM tokenizes the text as it is (one BOS, no roles).
    [output] = await run_job(vllm_handler, {"prompt": "Once", "max_tokens": 5})
    [call] = fake_vllm.RECORD["generate"]
    ids = call["prompt"]["prompt_token_ids"]
    from vllm import FakeTokenizer
    assert ids == FakeTokenizer().encode("Once", add_special_tokens=True)
    assert output["usage"]["input"] == len(ids) == 5  # BOS + 4 characters: no role markers


async def test_a_prompt_with_apply_chat_template_is_one_templated_user_turn(fake_vllm, vllm_handler):
    await run_job(vllm_handler, {"prompt": "Once", "apply_chat_template": True, "max_tokens": 5})
    [call] = fake_vllm.RECORD["generate"]
    from engines.vllm_engine import build_prompt_token_ids
    from vllm import FakeTokenizer
    expected = build_prompt_token_ids(FakeTokenizer(), [{"role": "user", "content": "Once"}])
    assert call["prompt"]["prompt_token_ids"] == expected != FakeTokenizer().encode("Once")


async def test_streaming_deltas_are_batched(fake_vllm, vllm_handler):
    outputs = await run_job(vllm_handler, {"messages": USER, "max_tokens": 10, "stream": True})
    assert [o["choices"][0]["tokens"][0] for o in outputs] == ["Hello", ", world"]
    assert outputs[-1]["choices"][0]["finish_reason"] == "stop"


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
    assert [r["choices"] for r in received] == [[{"tokens": ["x"]}]]
    assert fake_vllm.RECORD["abort"] == ["job-9"]
    assert fake_vllm.RECORD["abort_internal"] == ["job-9"]  # vLLM's generate aborts itself too


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


async def test_json_format_asks_vllm_for_structured_output(fake_vllm, vllm_handler):
    fake_vllm.SCRIPT.update(tokens=['{"a"', ": 1}"])
    [output] = await run_job(vllm_handler, {"messages": USER, "format": "json", "max_tokens": 10})
    [sampling] = fake_vllm.RECORD["sampling"]
    assert sampling["structured_outputs"] == fake_vllm.StructuredOutputsParams(json_object=True)
    assert json.loads(output["choices"][0]["tokens"][0]) == {"a": 1}
    await run_job(vllm_handler, {"messages": USER, "format": "text", "max_tokens": 10})
    assert "structured_outputs" not in fake_vllm.RECORD["sampling"][1]


async def test_worker_vllm_sampling_params_reach_vllm_by_its_names(fake_vllm, vllm_handler):
    [output] = await run_job(vllm_handler, {"messages": USER, "sampling_params": {
        "max_tokens": 2, "temperature": 0, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
        "presence_penalty": 0.5, "frequency_penalty": -0.5}})
    [sampling] = fake_vllm.RECORD["sampling"]
    assert {k: v for k, v in sampling.items() if k != "output_kind"} == {
        "max_tokens": 2, "temperature": 0.0, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
        "presence_penalty": 0.5, "frequency_penalty": -0.5}
    assert output["choices"][0]["finish_reason"] == "length"


async def test_several_tokens_per_delta_are_counted(fake_vllm, vllm_handler):
    fake_vllm.SCRIPT.update(tokens=list("abcdefg"), tokens_per_output=3)
    outputs = await run_job(vllm_handler, {"messages": USER, "max_tokens": 10, "stream": True})
    assert "".join(o["choices"][0]["tokens"][0] for o in outputs) == "abcdefg"
    assert outputs[-1]["usage"]["output"] == 7


async def test_repetition_ends_an_answer(fake_vllm, vllm_handler):
    fake_vllm.SCRIPT.update(finish_reason="repetition")
    [output] = await run_job(vllm_handler, {"messages": USER, "max_tokens": 10})
    assert output["choices"] == [{"tokens": ["Hello, world"], "finish_reason": "repetition"}]


@pytest.mark.parametrize("reason,says", [
    ("error", "vLLM reported a retryable internal error for request job-r (finish_reason=error)"),
    ("abort", "vLLM aborted request job-r before it finished (finish_reason=abort)"),
])
async def test_error_and_abort_finish_reasons_are_no_answer_and_retryable(fake_vllm, reason, says):
    from engines import build_engine
    from job_handler import JobHandler

    config = load_worker_config({"MODEL_NAME": "org/model", "MAX_MODEL_LEN": "64"})
    calls = []
    handler = JobHandler(build_engine(config), config, on_fatal=calls.append).handle
    fake_vllm.SCRIPT.update(finish_reason=reason)
    [failed] = await run_job(handler, {"messages": USER, "max_tokens": 10}, job_id="job-r")
    assert failed == {"error": f"engine: RetryableEngineError: {says}. The engine is fine; send the request again"}
    assert calls == []  # the worker stays up
    fake_vllm.SCRIPT.update(finish_reason=None)
    [ok] = await run_job(handler, {"messages": USER, "max_tokens": 10})
    assert ok["choices"][0]["finish_reason"] == "stop"


async def test_vllm_validation_error_is_the_users_error_naming_max_model_len(fake_vllm, vllm_handler):
    # vLLM may serve a shorter context than configured (it fits max_model_len to the KV cache): then it,
    # not our own check, refuses a prompt that is too long.
    engine_args = fake_vllm.RECORD["engine_args"][0]
    assert engine_args["max_model_len"] == 64
    import vllm.v1.engine.async_llm as async_llm

    prompt = [{"role": "user", "content": "x" * 30}]
    original = async_llm.AsyncLLM._check_prompt

    def shorter_context(self, prompt_):
        self.max_model_len = 20
        return original(self, prompt_)

    async_llm.AsyncLLM._check_prompt = shorter_context
    try:
        [failed] = await run_job(vllm_handler, {"messages": prompt, "max_tokens": 2})
    finally:
        async_llm.AsyncLLM._check_prompt = original
    message = failed["error"]
    assert message.startswith("input: vLLM refused the request: The decoder prompt (length ")
    assert "longer than the maximum model length of 20" in message
    assert "max_model_len=64" in message


def test_the_fake_refuses_what_vllm_refuses(fake_vllm):
    with pytest.raises(TypeError, match="Unexpected keyword argument 'max_new_tokens'"):
        fake_vllm.SamplingParams(max_new_tokens=5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'model_name'"):
        fake_vllm.AsyncEngineArgs(model_name="x")
    with pytest.raises(TypeError, match="TokensPrompt has no key 'token_ids'"):
        fake_vllm.TokensPrompt(token_ids=[1])
    assert fake_vllm.SamplingParams().max_tokens == 16  # vLLM's default, why the worker always sets it
