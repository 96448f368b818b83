"""MetaHuman OS serverless worker: the RunPod SDK's worker loop around a chat engine.

Run `python3 -u handler/handler.py` from the repo root (the image's CMD). Env: ENGINE (`vllm` default,
or `echo` for local runs and tests), MODEL_NAME, MAX_MODEL_LEN, GPU_MEMORY_UTILIZATION, MAX_CONCURRENCY,
STREAM_BATCH_TOKENS, DEFAULT_MAX_TOKENS, ECHO_TOKEN_DELAY_MS (see worker_config.py). The job contract and
what each yield looks like are in job_handler.py.

The handler is an async generator, so on RunPod the SDK streams every yield and, with
return_aggregate_stream, makes the job's final output the list of all yields (a one-element list for a
non-streaming job). The SDK's `--test_input` mode does not iterate generators, so for local runs
(`--test_input`, test_input.json, no RUNPOD_WEBHOOK_GET_JOB) the same generator is drained into that
same list and returned.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, List, Mapping, Sequence, Union

import runpod

from engines import build_engine
from job_handler import Handler, make_handler
from worker_config import ConfigError, load_worker_config

log = logging.getLogger("worker")


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


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_worker_config(os.environ)
    except ConfigError as error:
        log.error("worker config: %s", error)
        sys.exit(2)

    engine = build_engine(config)
    handler = make_handler(engine, config)
    log.info("worker: engine=%s model=%s max_model_len=%d max_concurrency=%d",
             config.engine, config.model_name, config.max_model_len, config.max_concurrency)
    runpod.serverless.start({
        "handler": drain(handler) if is_local_run(sys.argv, os.environ) else handler,
        "return_aggregate_stream": True,
        "concurrency_modifier": lambda _current: config.max_concurrency,
    })


if __name__ == "__main__":
    main()
