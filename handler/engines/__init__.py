"""Engines the worker can run: `vllm` (GPU) or `echo` (local runs and tests), chosen by ENGINE."""

from __future__ import annotations

from worker_config import WorkerConfig

from .base import Engine, EngineDelta, GenerationParams, PreparedPrompt


def build_engine(config: WorkerConfig) -> Engine:
    if config.engine == "echo":
        from .echo import EchoEngine

        return EchoEngine(config.model_name, config.max_model_len, config.echo_token_delay_ms,
                          config.echo_fail_fatal_after)
    from .vllm_engine import VllmEngine

    return VllmEngine.start(config)


__all__ = ["Engine", "EngineDelta", "GenerationParams", "PreparedPrompt", "build_engine"]
