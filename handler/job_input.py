"""Validation of a job's input: the native contract and RunPod's OpenAI route, into one ChatRequest.

Native input: `{messages | prompt, max_tokens?, temperature?, top_p?, stop?, seed?, stream?, model?, format?,
sampling_params?, apply_chat_template?, use_openai_format?, max_batch_size?, min_batch_size?,
batch_size_growth_factor?}`: our own fields, what MetaHuman OS's RunPod client sends (`model`, `format: "json"`),
and worker-vllm's request fields: `prompt` (text; one of `prompt` and `messages`), its `sampling_params` object
(a setting may be given there or at the top level, not both), and its template and stream-batching settings,
checked and accepted. As in worker-vllm, a `prompt` goes to the model as it is (a text the model continues) unless
`apply_chat_template` is true, when it becomes one user turn of a chat; `messages` always go through the model's
chat template. `use_openai_format` is checked and, as in worker-vllm (which reads it and never uses it), changes
nothing. The stream is batched by STREAM_BATCH_TOKENS.
OpenAI input: `{openai_route: "/v1/chat/completions" | "/v1/models", openai_input: {...}}`.
`model` (both kinds) must name the served model or one of its aliases (MODEL_ALIASES).
Unknown fields are rejected; every error names the field, the value and what is allowed.
Before any of that, the whole input must be text the RunPod SDK can post back (no lone UTF-16 surrogate in any
string or key: its result post would fail and leave the job IN_PROGRESS until the execution timeout) and at most
MAX_INPUT_DEPTH levels of objects and lists deep (checked without recursion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from engines.base import Message

ROLES = ("system", "user", "assistant")
SAMPLING_FIELDS = ("max_tokens", "temperature", "top_p", "stop", "seed")
"""Sampling settings accepted at the top level and inside worker-vllm's `sampling_params`."""
EXTRA_SAMPLING_FIELDS = ("top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty")
"""Further vLLM SamplingParams settings accepted inside `sampling_params` only (passed to vLLM as given)."""
WORKER_VLLM_FIELDS = ("prompt", "apply_chat_template", "use_openai_format", "max_batch_size", "min_batch_size",
                      "batch_size_growth_factor")
"""worker-vllm's request fields beside `messages`, `sampling_params` and `stream` (its README's input table)."""
NATIVE_FIELDS = ("messages",) + SAMPLING_FIELDS + ("stream", "model", "format", "sampling_params") + WORKER_VLLM_FIELDS
FORMATS = ("text", "json")
OPENAI_ROUTES = ("/v1/chat/completions", "/v1/models")
OPENAI_CHAT_FIELDS = ("model", "messages", "max_tokens", "max_completion_tokens", "temperature",
                      "top_p", "stop", "seed", "stream", "stream_options", "n", "user", "response_format")
RESPONSE_FORMATS = ("text", "json_object")
MAX_INPUT_DEPTH = 32
"""Levels of objects and lists a job's input may nest (the deepest valid input has 6)."""
DEFAULT_TEMPERATURE = 0.7
MAX_STOP_SEQUENCES = 16


class InputError(ValueError):
    """The job's input breaks the contract; the message names the field."""


@dataclass(frozen=True)
class ChatRequest:
    kind: str
    """"native", "openai_chat" or "openai_models"."""
    messages: List[Message]
    max_tokens: Optional[int]
    """None when the job gave none: the handler fills it in from what the context has left."""
    temperature: float
    top_p: Optional[float]
    stop: Optional[List[str]]
    seed: Optional[int]
    stream: bool
    include_usage: bool
    """OpenAI `stream_options.include_usage`: a last chunk with usage and no choices."""
    json_output: bool = False
    """`format: "json"` (OpenAI: `response_format: {type: "json_object"}`): the answer is one JSON value."""
    extra_sampling: Dict[str, Any] = field(default_factory=dict)
    """Validated EXTRA_SAMPLING_FIELDS from `sampling_params`, by vLLM's own names."""
    raw_prompt: Optional[str] = None
    """worker-vllm's `prompt` without `apply_chat_template: true`: the text the model continues, with no chat
    template. `messages` then holds the same text as one user turn, for engines that only read chats (echo)."""


def _fail(field: str, value: Any, allowed: str) -> InputError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InputError(f"{field}: {shown} is not allowed; expected {allowed}")


def _lone_surrogate(text: str) -> Optional[int]:
    """Index of the first code point that is a lone UTF-16 surrogate (not encodable as UTF-8), or None."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as error:
        return error.start


def _path(parent: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{parent}.{key}"
    return f"{parent}[{_lone_safe_repr(key)}]"


def _lone_safe_repr(value: str) -> str:
    shown = ascii(value)  # lone surrogates come out escaped, so the message itself can always be posted
    return shown if len(shown) <= 40 else shown[:37] + "..."


def check_postable_input(raw: Any, where: str = "input") -> None:
    """Refuses input that would stall the job: a lone surrogate anywhere, or nesting past MAX_INPUT_DEPTH.

    Iterative, so input nested far deeper than Python's recursion limit is refused by name too.
    """
    pending: List[Tuple[Any, str, int]] = [(raw, where, 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            index = _lone_surrogate(value)
            if index is not None:
                raise InputError(f"{path}: {_lone_safe_repr(value)} is not allowed: a lone UTF-16 surrogate "
                                 f"(U+{ord(value[index]):04X}) at character {index}; expected valid Unicode text "
                                 "(surrogates only in pairs)")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_INPUT_DEPTH:
            shown = path if len(path) <= 120 else path[:117] + "..."
            raise InputError(f"{shown}: nested deeper than {MAX_INPUT_DEPTH} levels is not allowed; expected at most "
                             f"{MAX_INPUT_DEPTH} levels of objects and lists")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _lone_surrogate(key) is not None:
                    raise InputError(f"{path}: the key {_lone_safe_repr(key)} is not allowed: it holds a lone UTF-16 "
                                     "surrogate; expected valid Unicode text (surrogates only in pairs)")
                pending.append((item, _path(path, key), depth + 1))
        else:
            pending.extend((item, _path(path, index), depth + 1) for index, item in enumerate(value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reject_unknown(data: Mapping[str, Any], allowed: tuple, where: str) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(f"{where}.{key}: unknown field; allowed fields are {', '.join(allowed)}")


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, value, "an object")
    return value


def _content(value: Any, field: str, allow_parts: bool) -> str:
    if isinstance(value, str):
        return value
    if allow_parts and isinstance(value, list):
        texts = []
        for index, part in enumerate(value):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise _fail(f"{field}[{index}]", part, 'a text part {"type": "text", "text": "..."}')
            texts.append(part["text"])
        return "".join(texts)
    raise _fail(field, value, "a string or a list of text parts" if allow_parts else "a string")


def _messages(value: Any, field: str, openai: bool) -> List[Message]:
    if not isinstance(value, list) or not value:
        raise _fail(field, value, "a non-empty list of {role, content} messages")
    allowed_keys = ("role", "content", "name") if openai else ("role", "content")
    roles = ROLES + ("developer",) if openai else ROLES
    messages: List[Message] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        message = _object(item, where)
        _reject_unknown(message, allowed_keys, where)
        role = message.get("role")
        if role not in roles:
            raise _fail(f"{where}.role", role, f"one of {', '.join(roles)}")
        if "content" not in message:
            raise InputError(f"{where}.content: missing; expected a string")
        content = _content(message["content"], f"{where}.content", allow_parts=openai)
        # OpenAI's "developer" role is the newer name of "system"; chat templates only know the latter.
        messages.append({"role": "system" if role == "developer" else role, "content": content})
    return messages


def _max_tokens(value: Any, field: str, max_model_len: int) -> Optional[int]:
    if value is None:
        return None
    if not _is_int(value) or not 1 <= value <= max_model_len:
        raise _fail(field, value, f"an integer from 1 to {max_model_len} (max_model_len)")
    return value


def _temperature(value: Any, field: str) -> float:
    if value is None:
        return DEFAULT_TEMPERATURE
    if not _is_number(value) or not 0 <= value <= 2:
        raise _fail(field, value, "a number from 0 to 2")
    return float(value)


def _top_p(value: Any, field: str) -> Optional[float]:
    if value is None:
        return None
    if not _is_number(value) or not 0 < value <= 1:
        raise _fail(field, value, "a number greater than 0 and at most 1")
    return float(value)


def _stop(value: Any, field: str) -> Optional[List[str]]:
    if value is None:
        return None
    stops = [value] if isinstance(value, str) else value
    if (not isinstance(stops, list) or not 1 <= len(stops) <= MAX_STOP_SEQUENCES
            or not all(isinstance(s, str) and s for s in stops)):
        raise _fail(field, value, f"a non-empty string or a list of 1 to {MAX_STOP_SEQUENCES} non-empty strings")
    return list(stops)


def _seed(value: Any, field: str) -> Optional[int]:
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value < 2**63:
        raise _fail(field, value, "an integer from 0 to 2^63-1")
    return value


def _flag(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(field, value, "true or false")
    return value


def _bounded(low: float, high: float, allowed: str, integer: bool = False):
    def check(value: Any, field: str) -> Any:
        ok = _is_int(value) if integer else _is_number(value)
        if not ok or not low <= value <= high:
            raise _fail(field, value, allowed)
        return value if integer else float(value)

    return check


_EXTRA_SAMPLING_CHECKS = {
    # vLLM 0.33's own bounds (SamplingParams._verify_args; top_k -1 or 0 means all tokens), except
    # repetition_penalty, which vLLM only needs above 0: more than 10 is a mistake, not a setting.
    "top_k": _bounded(-1, 2**31 - 1, "an integer, -1 or 0 for all tokens, or a positive count", integer=True),
    "min_p": _bounded(0, 1, "a number from 0 to 1"),
    "presence_penalty": _bounded(-2, 2, "a number from -2 to 2"),
    "frequency_penalty": _bounded(-2, 2, "a number from -2 to 2"),
    "repetition_penalty": _bounded(0.01, 10, "a number greater than 0 (1 means none), at most 10"),
}


def _check_model(value: Any, field: str, served_models: Sequence[str]) -> None:
    """`model` must name what this worker serves: a client that asks for another model must not get this one."""
    if value is None or not served_models:
        return
    if not isinstance(value, str) or value not in served_models:
        names = ", ".join(repr(name) for name in served_models)
        raise InputError(f"{field}: {value!r} is not served by this worker; it serves {names} "
                         "(set MODEL_ALIASES on the endpoint to accept other names)")


def _format(value: Any, field: str) -> bool:
    if value is None:
        return False
    if value not in FORMATS:
        raise _fail(field, value, f"one of {', '.join(FORMATS)}")
    return value == "json"


def _sampling_settings(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The sampling settings of a native input, from the top level and from `sampling_params`, by field path."""
    settings: Dict[str, Any] = {}
    for name in SAMPLING_FIELDS:
        if data.get(name) is not None:
            settings[name] = (f"input.{name}", data[name])
    if data.get("sampling_params") is None:
        return settings
    nested = _object(data["sampling_params"], "input.sampling_params")
    _reject_unknown(nested, SAMPLING_FIELDS + EXTRA_SAMPLING_FIELDS, "input.sampling_params")
    for name, value in nested.items():
        if value is None:
            continue
        if name in settings:
            raise InputError(f"input.sampling_params.{name}: also given as input.{name}; give it once")
        settings[name] = (f"input.sampling_params.{name}", value)
    return settings


def _batching(data: Mapping[str, Any]) -> None:
    """worker-vllm's stream batching settings: accepted when sane (this worker batches by STREAM_BATCH_TOKENS)."""
    for name in ("max_batch_size", "min_batch_size"):
        value = data.get(name)
        if value is not None and (not _is_int(value) or not 1 <= value <= 10_000):
            raise _fail(f"input.{name}", value, "an integer from 1 to 10000")
    factor = data.get("batch_size_growth_factor")
    if factor is not None and (not _is_number(factor) or not 1 <= factor <= 100):
        raise _fail("input.batch_size_growth_factor", factor, "a number from 1 to 100")
    low, high = data.get("min_batch_size"), data.get("max_batch_size")
    if low is not None and high is not None and low > high:
        raise InputError(f"input.min_batch_size: {low!r} is not allowed; expected at most input.max_batch_size ({high!r})")


def _prompt_messages(data: Mapping[str, Any]) -> List[Message]:
    """worker-vllm's `prompt` (text), or `messages`: exactly one of them."""
    if "prompt" in data and "messages" in data:
        raise InputError("input.prompt: given together with input.messages; give one of them "
                         "(prompt: text, messages: a chat)")
    if "prompt" in data:
        prompt = data["prompt"]
        if not isinstance(prompt, str) or not prompt:
            raise _fail("input.prompt", prompt, "a non-empty string (give a chat as input.messages)")
        return [{"role": "user", "content": prompt}]
    if "messages" not in data:
        raise InputError("input.messages: missing; expected a non-empty list of {role, content} messages "
                         "(or input.prompt: text)")
    return _messages(data["messages"], "input.messages", openai=False)


def _parse_native(data: Mapping[str, Any], max_model_len: int, served_models: Sequence[str]) -> ChatRequest:
    _reject_unknown(data, NATIVE_FIELDS, "input")
    messages = _prompt_messages(data)
    chat_template = _flag(data.get("apply_chat_template"), "input.apply_chat_template")
    _flag(data.get("use_openai_format"), "input.use_openai_format")
    _batching(data)
    _check_model(data.get("model"), "input.model", served_models)
    json_output = _format(data.get("format"), "input.format")
    settings = _sampling_settings(data)

    def setting(name: str, check: Any, *args: Any) -> Any:
        where, value = settings.get(name, (f"input.{name}", None))
        return check(value, where, *args)

    return ChatRequest(
        kind="native",
        messages=messages,
        max_tokens=setting("max_tokens", _max_tokens, max_model_len),
        temperature=setting("temperature", _temperature),
        top_p=setting("top_p", _top_p),
        stop=setting("stop", _stop),
        seed=setting("seed", _seed),
        stream=_flag(data.get("stream"), "input.stream"),
        include_usage=False,
        json_output=json_output,
        extra_sampling={name: _EXTRA_SAMPLING_CHECKS[name](settings[name][1], settings[name][0])
                        for name in EXTRA_SAMPLING_FIELDS if name in settings},
        raw_prompt=data["prompt"] if "prompt" in data and not chat_template else None,
    )


def _response_format(value: Any, field: str) -> bool:
    if value is None:
        return False
    body = _object(value, field)
    _reject_unknown(body, ("type",), field)
    if body.get("type") not in RESPONSE_FORMATS:
        raise _fail(f"{field}.type", body.get("type"), f"one of {', '.join(RESPONSE_FORMATS)}")
    return body["type"] == "json_object"


def _parse_openai(data: Mapping[str, Any], max_model_len: int, served_models: Sequence[str]) -> ChatRequest:
    _reject_unknown(data, ("openai_route", "openai_input"), "input")
    route = data.get("openai_route")
    if route not in OPENAI_ROUTES:
        raise _fail("input.openai_route", route, f"one of {', '.join(OPENAI_ROUTES)}")
    body = _object(data.get("openai_input", {}) if route == "/v1/models" else data.get("openai_input"),
                   "input.openai_input")
    if route == "/v1/models":
        return ChatRequest(kind="openai_models", messages=[], max_tokens=None, temperature=0.0,
                           top_p=None, stop=None, seed=None, stream=False, include_usage=False)

    where = "input.openai_input"
    _reject_unknown(body, OPENAI_CHAT_FIELDS, where)
    if "messages" not in body:
        raise InputError(f"{where}.messages: missing; expected a non-empty list of messages")
    if body.get("model") is not None and not isinstance(body["model"], str):
        raise _fail(f"{where}.model", body["model"], "a string")
    _check_model(body.get("model"), f"{where}.model", served_models)
    if body.get("n") not in (None, 1):
        raise _fail(f"{where}.n", body["n"], "1 (one choice per request)")
    options = _object(body.get("stream_options") or {}, f"{where}.stream_options")
    _reject_unknown(options, ("include_usage",), f"{where}.stream_options")
    # max_completion_tokens is OpenAI's newer name for max_tokens; it wins when both are given.
    limit_field = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    return ChatRequest(
        kind="openai_chat",
        messages=_messages(body["messages"], f"{where}.messages", openai=True),
        max_tokens=_max_tokens(body.get(limit_field), f"{where}.{limit_field}", max_model_len),
        temperature=_temperature(body.get("temperature"), f"{where}.temperature"),
        top_p=_top_p(body.get("top_p"), f"{where}.top_p"),
        stop=_stop(body.get("stop"), f"{where}.stop"),
        seed=_seed(body.get("seed"), f"{where}.seed"),
        stream=_flag(body.get("stream"), f"{where}.stream"),
        include_usage=_flag(options.get("include_usage"), f"{where}.stream_options.include_usage"),
        json_output=_response_format(body.get("response_format"), f"{where}.response_format"),
    )


def parse_job_input(raw: Any, max_model_len: int, served_models: Sequence[str] = ()) -> ChatRequest:
    """Validates `job["input"]`; raises InputError naming the first field that breaks the contract.

    `served_models`: the served model's name and its aliases; `model` must be one of them (not checked
    when empty).
    """
    check_postable_input(raw)
    data = _object(raw, "input")
    if "openai_route" in data or "openai_input" in data:
        return _parse_openai(data, max_model_len, served_models)
    return _parse_native(data, max_model_len, served_models)


def resolve_max_tokens(request: ChatRequest, prompt_tokens: int, max_model_len: int,
                       default_max_tokens: int) -> int:
    """Checks that prompt plus max_tokens fit max_model_len; fills in max_tokens when none was given."""
    room = max_model_len - prompt_tokens
    field = "input.openai_input" if request.kind == "openai_chat" else "input"
    if room < 1:
        raise InputError(
            f"{field}.messages: the prompt is {prompt_tokens} tokens, which leaves no room to answer "
            f"within max_model_len={max_model_len}; shorten the messages"
        )
    if request.max_tokens is None:
        return min(default_max_tokens, room)
    if request.max_tokens > room:
        raise InputError(
            f"{field}.max_tokens: {request.max_tokens} is not allowed; the prompt is {prompt_tokens} tokens "
            f"and prompt plus max_tokens must be at most max_model_len={max_model_len}, "
            f"so max_tokens may be at most {room}"
        )
    return request.max_tokens
