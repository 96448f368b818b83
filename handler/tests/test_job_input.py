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
