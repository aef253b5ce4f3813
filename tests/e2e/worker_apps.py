"""Workers that the end-to-end tests run in ``topchef worker`` processes.

The environment sets what each test needs: the service name, a file that
records each start and finish of a job function, the lease and the claim wait.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from topchef.worker import current_job, worker

SERVICE = os.environ.get("TOPCHEF_E2E_SERVICE", "e2e worker")
RECORD = os.environ.get("TOPCHEF_E2E_RECORD")
LEASE_SECONDS = int(os.environ.get("TOPCHEF_E2E_LEASE_SECONDS", "60"))
CLAIM_WAIT_SECONDS = float(os.environ.get("TOPCHEF_E2E_CLAIM_WAIT_SECONDS", "2"))

PARAMETERS_SCHEMA = {
    "type": "object",
    "properties": {
        "value": {"type": "integer"},
        "seconds": {"type": "number", "minimum": 0, "description": "how long the job runs"},
        "first_attempt_only": {"type": "boolean",
                               "description": "run for 'seconds' on the first attempt only"},
    },
    "required": ["value"],
}
RESULTS_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "integer"}},
    "required": ["result"],
}
SETUP: dict[str, Any] = {
    "service": SERVICE,
    "description": "a service of the end-to-end worker tests",
    "job_registration_schema": PARAMETERS_SCHEMA,
    "job_result_schema": RESULTS_SCHEMA,
    "service_settings": {"retry_delay_seconds": 0.1, "retry_delay_max_seconds": 0.2},
    "lease_seconds": LEASE_SECONDS,
    "claim_wait_seconds": CLAIM_WAIT_SECONDS,
}


def record(event: str) -> None:
    """Append ``EVENT JOB_ID ATTEMPT PID`` to the record file, if the test named one."""
    if RECORD is None:
        return
    job = current_job().job
    with open(RECORD, "a", encoding="utf-8") as stream:
        stream.write(f"{event} {job.id} {job.attempt} {os.getpid()}\n")


def run_seconds(parameters: dict[str, Any]) -> float:
    if parameters.get("first_attempt_only") and current_job().job.attempt > 1:
        return 0.0
    return float(parameters.get("seconds", 0))


@worker(**SETUP)
def sleeper(parameters: dict[str, Any]) -> dict[str, int]:
    """Add one after sleeping in this thread; it cannot be interrupted."""
    record("start")
    time.sleep(run_seconds(parameters))
    record("finish")
    return {"result": parameters["value"] + 1}


@worker(**SETUP)
async def async_sleeper(parameters: dict[str, Any]) -> dict[str, int]:
    """Add one after an asyncio sleep, which a cancellation interrupts."""
    record("start")
    try:
        await asyncio.sleep(run_seconds(parameters))
    except asyncio.CancelledError:
        record("cancelled")
        raise
    record("finish")
    return {"result": parameters["value"] + 1}


@worker(**SETUP, retry_on=(ValueError,))
def flaky(parameters: dict[str, Any]) -> dict[str, int]:
    """Fail the first attempt with a ValueError, which the worker reports with a retry request."""
    record("start")
    if current_job().job.attempt == 1:
        raise ValueError(f"flaky failure on value {parameters['value']}")
    record("finish")
    return {"result": parameters["value"] + 1}


@worker(**SETUP, retry_on=(ValueError,))
def broken(parameters: dict[str, Any]) -> dict[str, int]:
    """Fail with a KeyError, which the worker does not retry."""
    record("start")
    return {"result": parameters["missing"]}


@worker(**SETUP)
def wrong_results(parameters: dict[str, Any]) -> dict[str, str]:
    """Return results that break the service's result schema."""
    record("start")
    return {"result": "not an integer"}


not_a_worker = 42
