import pytest

from job_input import InputError, parse_job_input, resolve_max_tokens

USER = [{"role": "user", "content": "hi"}]


def test_native_input_is_parsed_with_defaults():
    request = parse_job_input({"messages": USER}, 100)
    assert request.kind == "native"
    assert request.max_tokens is None and request.temperature == 0.7
    assert (request.top_p, request.stop, request.seed, request.stream) == (None, None, None, False)


def test_temperature_zero_stays_zero():
    assert parse_job_input({"messages": USER, "temperature": 0}, 100).temperature == 0.0


@pytest.mark.parametrize("job_input,field", [
    ("hello", "input"),
    ({}, "input.messages"),
    ({"messages": []}, "input.messages"),
    ({"messages": USER, "prompt": "x"}, "input.prompt"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "input.messages[0].role"),
    ({"messages": [{"role": "user", "content": 3}]}, "input.messages[0].content"),
    ({"messages": [{"role": "user"}]}, "input.messages[0].content"),
    ({"messages": [{"role": "user", "content": "x", "name": "n"}]}, "input.messages[0].name"),
    ({"messages": USER, "max_tokens": 0}, "input.max_tokens"),
    ({"messages": USER, "max_tokens": 101}, "input.max_tokens"),
    ({"messages": USER, "max_tokens": "10"}, "input.max_tokens"),
    ({"messages": USER, "max_tokens": True}, "input.max_tokens"),
    ({"messages": USER, "temperature": 3}, "input.temperature"),
    ({"messages": USER, "top_p": 0}, "input.top_p"),
    ({"messages": USER, "stop": ""}, "input.stop"),
    ({"messages": USER, "stop": ["a", 1]}, "input.stop"),
    ({"messages": USER, "seed": -1}, "input.seed"),
    ({"messages": USER, "stream": "yes"}, "input.stream"),
    ({"openai_route": "/v1/embeddings", "openai_input": {}}, "input.openai_route"),
    ({"openai_route": "/v1/chat/completions"}, "input.openai_input"),
    ({"openai_route": "/v1/chat/completions", "openai_input": {"messages": USER, "n": 2}},
     "input.openai_input.n"),
    ({"openai_route": "/v1/chat/completions", "openai_input": {"messages": USER, "tools": []}},
     "input.openai_input.tools"),
    ({"openai_route": "/v1/chat/completions",
      "openai_input": {"messages": USER, "max_completion_tokens": 0}},
     "input.openai_input.max_completion_tokens"),
])
def test_errors_name_the_field(job_input, field):
    with pytest.raises(InputError) as info:
        parse_job_input(job_input, 100)
    assert str(info.value).startswith(field + ":")


def test_openai_input_accepts_text_parts_and_developer_role():
    request = parse_job_input({"openai_route": "/v1/chat/completions", "openai_input": {
        "model": "any", "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a "}, {"type": "text", "text": "b"}]},
        ], "max_completion_tokens": 5, "stream": True, "stream_options": {"include_usage": True}}}, 100)
    assert request.messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a b"}]
    assert (request.max_tokens, request.stream, request.include_usage) == (5, True, True)


def test_context_check_names_max_tokens_and_the_limit():
    request = parse_job_input({"messages": USER, "max_tokens": 60}, 100)
    assert resolve_max_tokens(request, 40, 100, 512) == 60
    with pytest.raises(InputError, match=r"^input.max_tokens: 60 .*max_model_len=100.*at most 59"):
        resolve_max_tokens(request, 41, 100, 512)


def test_missing_max_tokens_takes_the_default_or_what_the_context_leaves():
    request = parse_job_input({"messages": USER}, 100)
    assert resolve_max_tokens(request, 10, 100, 16) == 16
    assert resolve_max_tokens(request, 90, 100, 16) == 10
    with pytest.raises(InputError, match="^input.messages: the prompt is 100 tokens"):
        resolve_max_tokens(request, 100, 100, 16)


SERVED = ("org/model", "llama3:8b")


def test_model_must_name_the_served_model_or_an_alias():
    assert parse_job_input({"messages": USER, "model": "org/model"}, 100, SERVED).kind == "native"
    assert parse_job_input({"messages": USER, "model": "llama3:8b"}, 100, SERVED).kind == "native"
    with pytest.raises(InputError) as info:
        parse_job_input({"messages": USER, "model": "gpt-4o"}, 100, SERVED)
    assert str(info.value) == ("input.model: 'gpt-4o' is not served by this worker; it serves 'org/model', "
                               "'llama3:8b' (set MODEL_ALIASES on the endpoint to accept other names)")
    with pytest.raises(InputError, match=r"^input.openai_input.model: 'gpt-4o' is not served"):
        parse_job_input({"openai_route": "/v1/chat/completions",
                         "openai_input": {"model": "gpt-4o", "messages": USER}}, 100, SERVED)
    with pytest.raises(InputError, match=r"^input.model: 3 is not served"):
        parse_job_input({"messages": USER, "model": 3}, 100, SERVED)


def test_format_json_and_openai_json_object_ask_for_json():
    assert parse_job_input({"messages": USER, "format": "json"}, 100).json_output is True
    assert parse_job_input({"messages": USER, "format": "text"}, 100).json_output is False
    assert parse_job_input({"messages": USER}, 100).json_output is False
    openai = parse_job_input({"openai_route": "/v1/chat/completions", "openai_input": {
        "messages": USER, "response_format": {"type": "json_object"}}}, 100)
    assert openai.json_output is True


def test_sampling_params_of_worker_vllm_are_read_like_top_level_fields():
    request = parse_job_input({"messages": USER, "sampling_params": {
        "max_tokens": 7, "temperature": 0, "top_p": 0.5, "stop": "##", "seed": 3, "top_k": 20,
        "repetition_penalty": 1.2}}, 100)
    assert (request.max_tokens, request.temperature, request.top_p, request.stop, request.seed) == (
        7, 0.0, 0.5, ["##"], 3)
    assert request.extra_sampling == {"top_k": 20, "repetition_penalty": 1.2}


@pytest.mark.parametrize("job_input,message", [
    ({"messages": USER, "format": "yaml"}, "input.format: 'yaml' is not allowed; expected one of text, json"),
    ({"messages": USER, "sampling_params": []}, "input.sampling_params: [] is not allowed; expected an object"),
    ({"messages": USER, "sampling_params": {"max_new_tokens": 5}},
     "input.sampling_params.max_new_tokens: unknown field; allowed fields are max_tokens, temperature, top_p, "
     "stop, seed, top_k, min_p, presence_penalty, frequency_penalty, repetition_penalty"),
    ({"messages": USER, "max_tokens": 5, "sampling_params": {"max_tokens": 6}},
     "input.sampling_params.max_tokens: also given as input.max_tokens; give it once"),
    ({"messages": USER, "sampling_params": {"max_tokens": 0}},
     "input.sampling_params.max_tokens: 0 is not allowed; expected an integer from 1 to 100 (max_model_len)"),
    ({"messages": USER, "sampling_params": {"temperature": 9}},
     "input.sampling_params.temperature: 9 is not allowed; expected a number from 0 to 2"),
    ({"messages": USER, "sampling_params": {"top_k": 1.5}},
     "input.sampling_params.top_k: 1.5 is not allowed; expected an integer, -1 or 0 for all tokens, or a positive count"),
    ({"messages": USER, "sampling_params": {"repetition_penalty": 0}},
     "input.sampling_params.repetition_penalty: 0 is not allowed; expected a number greater than 0 (1 means none), at most 10"),
    ({"openai_route": "/v1/chat/completions", "openai_input": {"messages": USER, "response_format": {"type": "json_schema"}}},
     "input.openai_input.response_format.type: 'json_schema' is not allowed; expected one of text, json_object"),
])
def test_new_fields_name_what_is_wrong(job_input, message):
    with pytest.raises(InputError) as info:
        parse_job_input(job_input, 100)
    assert str(info.value) == message


def test_worker_vllm_prompt_is_one_user_turn():
    request = parse_job_input({"prompt": "Tell me a joke", "apply_chat_template": True, "use_openai_format": False,
                               "max_batch_size": 50, "min_batch_size": 1, "batch_size_growth_factor": 3,
                               "sampling_params": {"max_tokens": 20, "temperature": 0}}, 100)
    assert request.messages == [{"role": "user", "content": "Tell me a joke"}]
    assert request.raw_prompt is None  # apply_chat_template: true: the chat template runs
    assert request.max_tokens == 20
    assert request.temperature == 0.0


@pytest.mark.parametrize("flags", [{}, {"apply_chat_template": False}])
def test_worker_vllm_prompt_without_the_template_flag_is_raw_text(flags):
    # worker-vllm's default: a text prompt reaches the model as it is, for the model to continue.
    request = parse_job_input({"prompt": "Once upon a time", **flags}, 100)
    assert request.raw_prompt == "Once upon a time"
    assert request.messages == [{"role": "user", "content": "Once upon a time"}]


def test_messages_always_go_through_the_template():
    assert parse_job_input({"messages": USER, "apply_chat_template": False}, 100).raw_prompt is None


@pytest.mark.parametrize("raw, message", [
    ({"prompt": "a", "messages": USER}, "input.prompt: given together with input.messages"),
    ({"prompt": ["a"]}, "input.prompt: ['a'] is not allowed; expected a non-empty string"),
    ({"prompt": ""}, "input.prompt: '' is not allowed"),
    ({"prompt": "a", "apply_chat_template": "yes"}, "input.apply_chat_template: 'yes' is not allowed; expected true or false"),
    ({"prompt": "a", "max_batch_size": 0}, "input.max_batch_size: 0 is not allowed"),
    ({"prompt": "a", "min_batch_size": 9, "max_batch_size": 2}, "input.min_batch_size: 9 is not allowed"),
    ({"prompt": "a", "n_predict": 5}, "input.n_predict: unknown field; allowed fields are messages"),
    ({}, "input.messages: missing"),
])
def test_worker_vllm_fields_refused_by_name(raw, message):
    with pytest.raises(InputError) as caught:
        parse_job_input(raw, 100)
    assert str(caught.value).startswith(message)
