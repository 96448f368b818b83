"""MetaHuman OS serverless worker: the RunPod SDK's worker loop around a chat engine.

Run `python3 -u handler/handler.py` from the repo root (the image's CMD). Env: ENGINE (`vllm` default,
or `echo` for local runs and tests), MODEL_NAME, MODEL_ALIASES, MAX_MODEL_LEN, GPU_MEMORY_UTILIZATION,
MAX_CONCURRENCY, STREAM_BATCH_TOKENS, DEFAULT_MAX_TOKENS, ECHO_TOKEN_DELAY_MS (see worker_config.py).
The job contract and what each yield looks like are in job_handler.py.

The handler is an async generator, so on RunPod the SDK streams every yield and, with
return_aggregate_stream, makes the job's final output the list of all yields (for a non-streaming job a
one-element list in worker-vllm's shape). The SDK's `--test_input` mode does not iterate generators, so for local runs
(`--test_input`, test_input.json, no RUNPOD_WEBHOOK_GET_JOB) the same generator is drained into that
same list and returned.

Exits: status 2 for a bad setting, 3 when the model is not where vLLM would look for it offline (model_cache.py:
the line names the model, the cache path and the push-model command) or the engine does not start (one log line
naming the cause and MODEL_NAME, MAX_MODEL_LEN, GPU_MEMORY_UTILIZATION), 1 after an unrecoverable engine error in a job (vLLM's
engine dead, a CUDA fault): that job fails with a message saying so, the SDK posts it with `stopPod`,
and the process then ends so RunPod replaces the worker (see worker_exit.py for how).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, List, Mapping, Sequence, Union

import runpod

from engine_errors import start_failure_message
from engines import Engine, build_engine
from job_handler import Handler, JobHandler
from model_cache import ModelNotCached, check_model
from worker_config import ConfigError, WorkerConfig, load_worker_config
from worker_exit import EXIT_ENGINE_START, FatalExit, hard_exit

log = logging.getLogger("worker")

SDK_RECURSION_LIMIT = 20_000
"""The SDK parses each fetched job with json.loads, which recurses once per level: at Python's default limit
(1000) a job nested 1,000 deep raises RecursionError inside the SDK's fetch, the job is never seen by the
handler, and it stays IN_PROGRESS until the execution timeout. With this limit the fetch parses input up to
about 20,000 levels and the handler refuses it by name (job_input.MAX_INPUT_DEPTH). Measured on the main
thread's 8 MiB stack: json.loads, repr and json.dumps of objects nested 40,000 deep still fit; 50,000 do not."""


def is_local_run(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """The SDK's own rule: a test input, or no job-take URL, means one local job instead of the loop."""
    has_test_input = any(arg == "--test_input" or arg.startswith("--test_input=") for arg in argv)
    return has_test_input or not env.get("RUNPOD_WEBHOOK_GET_JOB")


def drain(handler: Handler):
    """Wraps the generator handler for local runs: returns what the platform would store as output."""

    async def run_to_end(job: Dict[str, Any]) -> Union[List[Dict[str, Any]], Dict[str, Any]]:
        outputs: List[Dict[str, Any]] = []
        async for output in handler(job):
            if output.get("error"):
                return {"error": output["error"]}
            outputs.append(output)
        return outputs

    return run_to_end


class EngineStartError(RuntimeError):
    """The engine did not start; the message names the cause and the settings to check."""


def start_engine(config: WorkerConfig) -> Engine:
    try:
        return build_engine(config)
    except Exception as error:
        log.debug("engine start failed", exc_info=True)
        raise EngineStartError(start_failure_message(error, config)) from error


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), SDK_RECURSION_LIMIT))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_worker_config(os.environ)
    except ConfigError as error:
        log.error("worker config: %s", error)
        sys.exit(2)

    try:
        cached = check_model(config, os.environ)
    except ModelNotCached as error:
        log.error("worker: %s", error)
        sys.exit(EXIT_ENGINE_START)
    if cached is not None:
        log.info("worker: model %s found in the Hugging Face cache: snapshot %s (revision %s) at %s",
                 cached.repo_id, cached.commit, cached.revision, cached.path)
    elif config.engine == "echo" and config.echo_cached_model:
        log.info("worker: model %s is not in the Hugging Face cache %s (the echo engine needs none)",
                 config.echo_cached_model, config.hf_hub_cache)

    try:
        engine = start_engine(config)
    except EngineStartError as error:
        log.error("%s", error)
        # vLLM may have started threads and processes before failing: a plain sys.exit could hang.
        hard_exit(EXIT_ENGINE_START)

    local = is_local_run(sys.argv, os.environ)
    sdk_config: Dict[str, Any] = {
        "return_aggregate_stream": True,
        "concurrency_modifier": lambda _current: config.max_concurrency,
    }
    # A local run is one job: its error already makes the SDK exit 1, so there is nothing to replace.
    fatal_exit = None if local else FatalExit(sdk_config)
    handler = JobHandler(engine, config, on_fatal=fatal_exit.trigger if fatal_exit else None).handle
    sdk_config["handler"] = drain(handler) if local else handler
    log.info("worker: engine=%s model=%s max_model_len=%d max_concurrency=%d",
             config.engine, config.model_name, config.max_model_len, config.max_concurrency)
    runpod.serverless.start(sdk_config)
    if fatal_exit is not None and fatal_exit.triggered:
        fatal_exit.exit_now()  # the SDK's loop ended before the watchdog did: same exit, status 1


if __name__ == "__main__":
    main()
