"""vllm.sampling_params as in vLLM 0.33.0 (vllm/sampling_params.py).

SamplingParams is a msgspec Struct there: an unknown keyword raises TypeError, the field names are
recorded in _recorded.py, and the defaults the worker must not rely on are kept (max_tokens=16).
StructuredOutputsParams is a dataclass that needs exactly one constraint (json, regex, choice, grammar,
json_object, structural_tag).
"""

import enum
from dataclasses import dataclass, field
from typing import Any, Optional

from vllm._recorded import RECORDED
from vllm.exceptions import VLLMValidationError

_FIELDS = tuple(RECORDED["sampling_params_fields"])
_CONSTRAINTS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass
class StructuredOutputsParams:
    json: Any = None
    regex: Optional[str] = None
    choice: Optional[list] = None
    grammar: Optional[str] = None
    json_object: Optional[bool] = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: Optional[str] = None
    structural_tag: Optional[str] = None
    _backend: Optional[str] = field(default=None, init=False)
    _backend_was_auto: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        count = sum(getattr(self, name) is not None for name in _CONSTRAINTS)
        if count > 1:
            raise VLLMValidationError("You can only use one kind of structured outputs constraint "
                                      f"but multiple are specified: {self.__dict__}")
        if count < 1:
            raise VLLMValidationError("You must use one kind of structured outputs constraint "
                                      f"but none are specified: {self.__dict__}")


_DEFAULTS = {"n": 1, "presence_penalty": 0.0, "frequency_penalty": 0.0, "repetition_penalty": 1.0,
             "temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "max_tokens": 16,
             "min_tokens": 0, "output_kind": RequestOutputKind.CUMULATIVE}


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        from vllm import RECORD

        for name in kwargs:
            if name not in _FIELDS:
                raise TypeError(f"Unexpected keyword argument '{name}'")  # msgspec's own wording
        for name in _FIELDS:
            setattr(self, name, kwargs.get(name, _DEFAULTS.get(name)))
        self.kwargs = kwargs
        self._verify_args()
        RECORD["sampling"].append(kwargs)

    def _verify_args(self) -> None:
        """The checks of vLLM's SamplingParams._verify_args that the worker's values can reach."""
        if self.temperature < 0.0:
            raise VLLMValidationError(f"temperature must be non-negative, got {self.temperature}.",
                                      parameter="temperature", value=self.temperature)
        if not 0.0 < self.top_p <= 1.0:
            raise VLLMValidationError(f"top_p must be in (0, 1], got {self.top_p}.",
                                      parameter="top_p", value=self.top_p)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise VLLMValidationError(f"max_tokens must be at least 1, got {self.max_tokens}.",
                                      parameter="max_tokens", value=self.max_tokens)
        if not -2.0 <= self.presence_penalty <= 2.0 or not -2.0 <= self.frequency_penalty <= 2.0:
            raise VLLMValidationError("presence_penalty and frequency_penalty must be in [-2, 2]")
        if self.repetition_penalty <= 0.0:
            raise VLLMValidationError("repetition_penalty must be greater than zero")
        if self.top_k < -1 or not 0.0 <= self.min_p <= 1.0:
            raise VLLMValidationError("top_k must be -1, 0 or at least 1 and min_p in [0, 1]")
        if not isinstance(self.output_kind, RequestOutputKind):
            raise TypeError(f"output_kind must be a RequestOutputKind, got {self.output_kind!r}")
        if self.structured_outputs is not None and not isinstance(self.structured_outputs,
                                                                  StructuredOutputsParams):
            raise TypeError("structured_outputs must be a StructuredOutputsParams")
