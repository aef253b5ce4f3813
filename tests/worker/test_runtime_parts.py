"""Parts of the worker runtime that need no server: failure reports, backoff, outage logs."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from topchef.client import RequestError
from topchef.worker import Worker, failure_report, worker
from topchef.worker._reconnect import MAX_DELAY_SECONDS, Backoff, OutageLog
from topchef.worker._runtime import MAX_ERROR_CHARS, finish_despite_cancellation


def _raise_nested() -> None:
    def inner() -> None:
        raise KeyError("missing")

    inner()


def test_failure_report_has_traceback_and_message() -> None:
    try:
        _raise_nested()
    except KeyError as exc:
        report = failure_report(exc)
    assert report.startswith("Traceback")
    assert "in inner" in report
    assert report.endswith("KeyError: 'missing'")


def test_failure_report_keeps_end_when_long() -> None:
    report = failure_report(ValueError("x" * 20_000 + " the end"))
    assert len(report) == MAX_ERROR_CHARS
    assert report.startswith("...")
    assert report.endswith(" the end")


def test_backoff_doubles_to_maximum() -> None:
    backoff = Backoff(random.Random(1))
    delays = [backoff.next_delay() for _ in range(2000)]
    assert 0.25 <= delays[0] <= 0.5
    assert 0.5 <= delays[1] <= 1.0
    assert max(delays) <= MAX_DELAY_SECONDS
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_outage_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog("http://127.0.0.1:5000")
    with caplog.at_level(logging.INFO, logger="topchef.worker"):
        for _ in range(5):
            outage.failed(RequestError("refused", url="http://127.0.0.1:5000"))
        outage.succeeded()
        outage.succeeded()
        outage.failed(RequestError("refused", url="http://127.0.0.1:5000"))

    actions = [record.action for record in caplog.records]  # type: ignore[attr-defined]
    assert actions == ["server_unreachable", "server_reachable", "server_unreachable"]
    assert "5 failed requests" in caplog.records[1].getMessage()


async def test_report_finishes_despite_cancellation() -> None:
    finished = asyncio.Event()

    async def report() -> str:
        await asyncio.sleep(0.05)
        finished.set()
        return "sent"

    async def handler() -> str:
        return await finish_despite_cancellation(report())

    task = asyncio.create_task(handler())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()


def test_worker_needs_one_service() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Worker(lambda parameters: parameters)
    with pytest.raises(ValueError, match="exactly one"):
        Worker(lambda parameters: parameters, service="a", service_id="b")


def test_decorated_function_still_callable() -> None:
    @worker(service="Add One")
    def add_one(parameters: dict[str, int]) -> dict[str, int]:
        return {"result": parameters["value"] + 1}

    assert isinstance(add_one, Worker)
    assert add_one({"value": 1}) == {"result": 2}
    assert not add_one.is_async


def test_async_function_detected() -> None:
    @worker(service_id="4f244a7f-4825-47c2-a215-8d69ce1b5c85")
    async def add_one(parameters: dict[str, int]) -> dict[str, int]:
        return {"result": parameters["value"] + 1}

    assert add_one.is_async
