"""Canned server responses for client unit tests on httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

BASE_URL = "http://topchef.test"
SERVICE_ID = "4f244a7f-4825-47c2-a215-8d69ce1b5c85"
JOB_ID = "fc712997-6a1a-421b-8f70-dc660672b336"
TIMESTAMP = "2026-12-04T21:07:25.533104+00:00"

Handler = Callable[[httpx.Request], httpx.Response]


def job_full(job_id: str = JOB_ID, **fields: Any) -> dict[str, Any]:
    """A job in the full view, as the server sends it."""
    return {
        "id": job_id, "status": "REGISTERED", "parameters": {"value": 41}, "results": None,
        "date_submitted": TIMESTAMP, "service_id": SERVICE_ID, "priority": 0, "attempt": 0,
        "worker": None, "lease": None, "date_started": None, "date_finished": None,
        "visible_at": None, "cancel_requested": False, "error": None, **fields,
    }


def job_classic(job_id: str = JOB_ID, **fields: Any) -> dict[str, Any]:
    """A job in the classic view, as submissions return it."""
    return {"id": job_id, "status": "REGISTERED", "parameters": {"value": 41}, "results": None,
            "date_submitted": TIMESTAMP, **fields}


def service_full(**fields: Any) -> dict[str, Any]:
    return {
        "id": SERVICE_ID, "name": "Add One", "description": "Adds one",
        "job_registration_schema": {"type": "object"}, "job_result_schema": {"type": "object"},
        "is_service_available": True, "has_timed_out": False, "timeout": 30,
        "jobs": [{"id": JOB_ID, "status": "COMPLETED", "date_submitted": TIMESTAMP}],
        "lease_seconds": 60, "max_attempts": 3, "retry_delay_seconds": 1.0,
        "retry_delay_max_seconds": 300.0, "retention_seconds": None,
        "last_checked_in": TIMESTAMP, "date_created": TIMESTAMP,
        "job_counts": {"REGISTERED": 0, "WORKING": 0, "COMPLETED": 1, "ERROR": 0}, **fields,
    }


def ok(data: Any, *, status_code: int = 200, links: dict[str, str] | None = None,
       headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"data": data, "links": {"self": BASE_URL, **(links or {})}}
    return httpx.Response(status_code, json=body, headers=headers)


def error(status_code: int, *problems: tuple[str, str]) -> httpx.Response:
    entries = [{"status_code": status_code, "title": title, "detail": detail}
               for title, detail in problems]
    return httpx.Response(status_code, json={"errors": entries})


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


class Recorder:
    """A MockTransport handler that responds from a queue and keeps every request."""

    def __init__(self, *responses: httpx.Response | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.responses.pop(0)
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]
