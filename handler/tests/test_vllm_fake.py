"""The vLLM fake keeps vLLM 0.33.0's shapes: checked against what record_vllm_signatures.py read from the
released wheel (fakes/vllm/_recorded.py), so the fake cannot drift into accepting what vLLM refuses."""

import dataclasses
import inspect

import pytest

from engine_errors import classify_client_error, classify_fatal, engine_error


def params(fn):
    sig = inspect.signature(fn)
    kinds = {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
    return {
        "positional": [p.name for p in sig.parameters.values() if p.kind in kinds],
        "keyword_only": [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY],
        "var_keyword": next((p.name for p in sig.parameters.values()
                             if p.kind is inspect.Parameter.VAR_KEYWORD), None),
    }


def test_the_record_is_vllm_0_33_0(fake_vllm):
    from vllm._recorded import RECORDED

    assert RECORDED["version"] == "0.33.0"
    assert RECORDED["finish_reasons"] == ["stop", "length", "abort", "error", "repetition"]


@pytest.mark.parametrize("name", ["generate", "abort", "get_tokenizer"])
def test_engine_methods_have_vllms_signatures(fake_vllm, name):
    from vllm._recorded import RECORDED
    from vllm.v1.engine.async_llm import AsyncLLM

    method = getattr(AsyncLLM, name)
    recorded = RECORDED[name]
    assert params(method) == {k: recorded[k] for k in ("positional", "keyword_only", "var_keyword")}
    assert inspect.iscoroutinefunction(method) == (recorded["async"] and not recorded["generator"])
    assert inspect.isasyncgenfunction(method) == (recorded["async"] and recorded["generator"])


def test_from_engine_args_and_request_output_have_vllms_signatures(fake_vllm):
    from vllm._recorded import RECORDED
    from vllm.outputs import CompletionOutput, RequestOutput

    recorded = RECORDED["from_engine_args"]
    assert params(fake_vllm.AsyncLLMEngine.from_engine_args)["positional"] == recorded["positional"][1:]  # no cls
    recorded = RECORDED["request_output_init"]
    assert params(RequestOutput.__init__) == {k: recorded[k] for k in ("positional", "keyword_only", "var_keyword")}
    assert [f.name for f in dataclasses.fields(CompletionOutput)] == RECORDED["completion_output_fields"]


def test_the_engine_is_vllms_alias(fake_vllm):
    from vllm.engine.async_llm_engine import AsyncLLMEngine
    from vllm.v1.engine.async_llm import AsyncLLM

    assert fake_vllm.AsyncLLMEngine is AsyncLLMEngine is AsyncLLM


def test_structured_outputs_params_fields(fake_vllm):
    from vllm._recorded import RECORDED

    fields = [f.name for f in dataclasses.fields(fake_vllm.StructuredOutputsParams) if f.init]
    assert fields == RECORDED["structured_outputs_fields"]
    with pytest.raises(Exception, match="must use one kind"):
        fake_vllm.StructuredOutputsParams()


def test_request_output_kind_values(fake_vllm):
    from vllm._recorded import RECORDED

    assert {kind.name: kind.value for kind in fake_vllm.RequestOutputKind} == RECORDED["request_output_kind"]


def test_every_recorded_sampling_and_engine_field_is_accepted_and_nothing_else(fake_vllm):
    from vllm._recorded import RECORDED

    sampling = set(RECORDED["sampling_params_fields"])
    assert {"max_tokens", "temperature", "top_p", "stop", "seed", "output_kind", "structured_outputs",
            "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty"} <= sampling
    for name in ("max_new_tokens", "guided_json", "response_format", "_eos_token_id"):
        with pytest.raises(TypeError):
            fake_vllm.SamplingParams(**{name: 1})
    engine = set(RECORDED["engine_args_fields"])
    assert {"model", "revision", "tokenizer", "max_model_len", "gpu_memory_utilization",
            "tensor_parallel_size", "dtype", "quantization", "trust_remote_code", "download_dir"} <= engine
    fake_vllm.AsyncEngineArgs(**{name: None for name in engine})
    with pytest.raises(TypeError):
        fake_vllm.AsyncEngineArgs(model="m", max_num_seq=4)  # vLLM's name is max_num_seqs


async def test_unknown_keywords_fail_on_engine_calls(fake_vllm):
    engine = fake_vllm.AsyncLLMEngine.from_engine_args(fake_vllm.AsyncEngineArgs(model="m", max_model_len=64))
    with pytest.raises(TypeError):
        engine.generate(fake_vllm.TokensPrompt(prompt_token_ids=[1]), fake_vllm.SamplingParams(), "r",
                        priority_class=1)
    with pytest.raises(TypeError):
        await engine.abort("r", force=True)
    with pytest.raises(TypeError):
        fake_vllm.AsyncLLMEngine.from_engine_args(fake_vllm.AsyncEngineArgs(model="m"), log_requests=True)


def test_exception_classes_sit_where_vllm_has_them(fake_vllm):
    from vllm._recorded import RECORDED
    import vllm.exceptions
    import vllm.v1.engine.exceptions

    for module in (vllm.exceptions, vllm.v1.engine.exceptions):
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == module.__name__):
                continue
            recorded = RECORDED["exceptions"][name]
            assert cls.__module__ == recorded["module"], name
            assert [base.__name__ for base in cls.__bases__] == recorded["bases"], name
    assert "AsyncEngineDeadError" not in RECORDED["exceptions"]


def test_each_vllm_exception_means_what_vllm_says(fake_vllm):
    from vllm.exceptions import QueueOverflowError, RetryableRequestError, VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError

    too_long = VLLMValidationError("The decoder prompt (length 9000) is longer than the maximum model length")
    assert classify_client_error(too_long).startswith("The decoder prompt (length 9000)")
    assert classify_fatal(too_long) is None
    assert classify_fatal(EngineDeadError()) == "the vLLM engine is dead"
    assert classify_client_error(EngineDeadError()) is None
    for retryable in (EngineGenerateError(), RetryableRequestError(), QueueOverflowError()):
        assert classify_fatal(retryable) is None and classify_client_error(retryable) is None
        assert engine_error(retryable).endswith("The engine is fine; send the request again")
    assert not engine_error(ValueError("x")).endswith("send the request again")
