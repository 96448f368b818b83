"""vllm.engine.arg_utils.AsyncEngineArgs as in vLLM 0.33.0: a dataclass (EngineArgs' ~260 fields plus
enable_log_requests, recorded in _recorded.py), so an unknown keyword raises TypeError."""

from typing import Any

from vllm._recorded import RECORDED

_FIELDS = tuple(RECORDED["engine_args_fields"])


class AsyncEngineArgs:
    def __init__(self, **kwargs: Any) -> None:
        from vllm import RECORD

        for name in kwargs:
            if name not in _FIELDS:
                raise TypeError(f"AsyncEngineArgs.__init__() got an unexpected keyword argument '{name}'")
        for name in _FIELDS:
            setattr(self, name, kwargs.get(name))
        self.kwargs = kwargs
        RECORD["engine_args"].append(kwargs)
