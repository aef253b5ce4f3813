"""The add-one service every scenario uses, and the request bodies sent to it."""

from __future__ import annotations

import urllib.request
from typing import Any

import orjson

SUBMIT_BODY_BYTES = 200
"""Size of one job submission body and of the baseline's echo body."""

ADD_ONE_SERVICE = {
    "name": "bench-add-one",
    "description": "adds one to x; the benchmarks submit, claim and complete its jobs",
    "job_registration_schema": {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "padding": {"type": "string"}},
        "required": ["x"],
    },
    "job_result_schema": {
        "type": "object",
        "properties": {"y": {"type": "integer"}},
        "required": ["y"],
    },
}


def job_parameters(x: int) -> dict[str, Any]:
    return {"x": x}


def submit_body() -> bytes:
    """Return a job submission of exactly SUBMIT_BODY_BYTES bytes, padded with a string."""
    empty = orjson.dumps({"parameters": {"x": 1, "padding": ""}})
    padding = "p" * (SUBMIT_BODY_BYTES - len(empty))
    return orjson.dumps({"parameters": {"x": 1, "padding": padding}})


def batch_body(count: int) -> bytes:
    return orjson.dumps({"jobs": [{"parameters": job_parameters(x)} for x in range(count)]})


def post_json(url: str, payload: Any) -> Any:
    """POST ``payload`` and return the decoded response body (setup calls, not measured)."""
    request = urllib.request.Request(url, data=orjson.dumps(payload), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return orjson.loads(response.read())


def create_service(base_url: str) -> str:
    """Create the add-one service; return its id."""
    body = post_json(base_url + "/services", ADD_ONE_SERVICE)
    service_id: str = body["data"]["id"]
    return service_id
