"""vLLM V1's engine-dead error, at its real import path (vllm.v1.engine.exceptions)."""


class EngineDeadError(Exception):
    def __init__(self, *args, suppress_context: bool = False, **kwargs) -> None:
        # vLLM's own text for it: the root cause is logged by the engine core, above.
        super().__init__("EngineCore encountered an issue. See stack trace (above) for the root cause.",
                         *args, **kwargs)
        self.__suppress_context__ = suppress_context
