"""vllm.engine.async_llm_engine in vLLM 0.33.0: AsyncLLMEngine is only an alias of AsyncLLM (V1).
V0's AsyncEngineDeadError is gone."""

from vllm.v1.engine.async_llm import AsyncLLM

AsyncLLMEngine = AsyncLLM
