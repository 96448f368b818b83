"""Ending the worker process after an unrecoverable engine error, once the failed job has been posted.

How the runpod SDK (1.10.0, the version the image pins) ends a worker after a job, read from its source:
- `refresh_worker: True` in the dict given to `runpod.serverless.start` is read when each job ends:
  `rp_job.handle_job` adds `stopPod: true` to the job-done body (the platform's "replace this worker"),
  and `JobScaler.handle_job` calls `kill_worker()` after that post, so the loops stop taking jobs.
  The SDK keeps that dict and reads it at run time, so setting the key when the engine dies is enough.
- A per-job `{"error": ..., "refresh_worker": True}` is honoured only for plain (non-generator) handlers;
  for a generator handler, like ours, the SDK keeps only the error's text and drops the flag.
- After `kill_worker()` the loops still wait out their job-take and job-stop long-polls (up to 90 s)
  and then return normally, so the process would end with status 0.
So: set the SDK's flag, then a watchdog ends the process with status 1 as soon as no job is in progress
(every taken job, the failed one included, has been posted), or after a bound if a post hangs.
The exit is os._exit, as the SDK's own fitness checks do: vLLM leaves non-daemon threads that a
sys.exit would wait on forever. Child processes (the SDK's heartbeat, vLLM's engine core) are ended
first so none outlive the worker.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from typing import Any, Callable, MutableMapping, Optional

log = logging.getLogger("worker")

EXIT_ENGINE_DEAD = 1
"""Exit status after an unrecoverable engine error at run time."""
EXIT_ENGINE_START = 3
"""Exit status when the engine does not start (2 is a bad worker setting)."""

POST_GRACE_S = 60.0
"""How long the watchdog waits for in-progress jobs to post their result before exiting anyway."""


def hard_exit(code: int) -> None:
    """Ends this process now, after ending its child processes and flushing the logs."""
    for child in multiprocessing.active_children():
        child.terminate()
    for child in multiprocessing.active_children():
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def sdk_jobs_in_progress() -> int:
    """Jobs the SDK has taken and not yet posted (its own tracker, the one its heartbeat reports)."""
    from runpod.serverless.modules.worker_state import JobsProgress

    return JobsProgress().get_job_count()


class FatalExit:
    """Armed by the handler when the engine dies; ends the worker once the SDK has posted the jobs."""

    def __init__(self, sdk_config: MutableMapping[str, Any],
                 jobs_in_progress: Callable[[], int] = sdk_jobs_in_progress,
                 exit_process: Callable[[int], None] = hard_exit,
                 post_grace_s: float = POST_GRACE_S, poll_s: float = 0.05) -> None:
        self._sdk_config = sdk_config
        self._jobs_in_progress = jobs_in_progress
        self._exit_process = exit_process
        self._post_grace_s = post_grace_s
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self.reason: Optional[str] = None
        self.watchdog: Optional[threading.Thread] = None

    @property
    def triggered(self) -> bool:
        return self.reason is not None

    def trigger(self, reason: str) -> None:
        """Called from the handler, while the failed job is still in progress; later calls do nothing."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        self._sdk_config["refresh_worker"] = True
        log.error("worker: %s; exiting with status %d once in-progress jobs have posted their result, "
                  "so RunPod replaces this worker", reason, EXIT_ENGINE_DEAD)
        self.watchdog = threading.Thread(target=self._watch, name="fatal-exit", daemon=True)
        self.watchdog.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self._post_grace_s
        while self._jobs_in_progress() > 0:
            if time.monotonic() >= deadline:
                log.error("worker: jobs still in progress after %.0f s; exiting anyway", self._post_grace_s)
                break
            time.sleep(self._poll_s)
        self.exit_now()

    def exit_now(self) -> None:
        log.error("worker: exiting with status %d (%s)", EXIT_ENGINE_DEAD, self.reason)
        self._exit_process(EXIT_ENGINE_DEAD)

