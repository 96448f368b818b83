import enum
from typing import Any


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        from . import RECORD

        self.kwargs = kwargs
        self.max_tokens = kwargs.get("max_tokens", 16)  # vLLM's own default, which the worker must override
        self.output_kind = kwargs.get("output_kind", RequestOutputKind.CUMULATIVE)
        RECORD["sampling"].append(kwargs)
