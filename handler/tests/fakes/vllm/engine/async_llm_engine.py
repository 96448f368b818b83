"""vLLM V0's engine-dead error, at its real import path (vllm.engine.async_llm_engine)."""


class AsyncEngineDeadError(RuntimeError):
    pass
