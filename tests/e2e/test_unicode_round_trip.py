"""Text comes back exactly as it was sent, on both stores, through a real server.

Names and descriptions may hold any character but U+0000, which PostgreSQL
text columns cannot store. Parameters, results and schemas may hold any
character at all, U+0000 included. Lone surrogates are not Unicode text, so
they are rejected before they reach a store (see test_hostile_input).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e

OPEN_SCHEMA = {"type": "object"}

SAMPLES = [
    "emoji \U0001f600 and flag \U0001f1ef\U0001f1f5 and family \U0001f468\u200d\U0001f469",
    "combining e\u0301 and a\u030a versus precomposed \u00e9 and \u00e5",
    "Hebrew \u05e9\u05dc\u05d5\u05dd and Arabic \u0645\u0631\u062d\u0628\u0627",
    "overrides \u202eright to left\u202c and isolates \u2067x\u2069",
    "byte order mark \ufeff, line separator \u2028, paragraph separator \u2029",
    "noncharacters \ufffe \uffff \U0010ffff and private use \ue000",
    "controls \u0001 \u001f \u007f \u0085 tab\tnewline\n quote\" backslash\\",
    "\u0130 dotted capital I and \u00df sharp s, which change length in case mapping",
]
JSON_ONLY_SAMPLES = ["nul \u0000 inside", "\u0000", "trailing nul\u0000"]

text_without_nul = st.text(st.characters(exclude_characters="\x00", codec="utf-8"))
json_text = st.text(st.characters(codec="utf-8"))
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | int64 | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(json_text, json_values, max_size=4)


def created_service(http: httpx.Client, name: str, description: str,
                    schema: dict[str, Any] | None = None) -> str:
    body = {"name": name, "description": description,
            "job_registration_schema": schema or OPEN_SCHEMA, "job_result_schema": OPEN_SCHEMA}
    response = http.post("/services", json=body)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def finished_job(http: httpx.Client, service_id: str, parameters: Any, results: Any) -> str:
    """Submit a job, complete it with ``results`` and return its id."""
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": parameters})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    for change in ({"status": "WORKING"}, {"status": "COMPLETED", "results": results}):
        response = http.patch(f"/jobs/{job_id}", json=change)
        assert response.status_code == 200, response.text
    return job_id


def read(http: httpx.Client, path: str) -> Any:
    response = http.get(path)
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.mark.parametrize("text", SAMPLES)
def test_service_text_round_trips(http: httpx.Client, text: str) -> None:
    schema = {"type": "object", "properties": {text: {"const": text}}, "title": text}
    service_id = created_service(http, text, text[::-1], schema)

    service = read(http, f"/services/{service_id}")
    listed = [entry for entry in read(http, "/services") if entry["id"] == service_id]

    assert service["name"] == text
    assert service["description"] == text[::-1]
    assert service["job_registration_schema"] == schema
    assert listed == [{"id": service_id, "name": text, "description": text[::-1]}]


@pytest.mark.parametrize("text", SAMPLES + JSON_ONLY_SAMPLES)
def test_job_text_round_trips(http: httpx.Client, text: str) -> None:
    service_id = created_service(http, "unicode jobs", "")
    parameters = {text: [text, {"nested": text}]}
    results = {"echo": text, text: len(text)}

    job_id = finished_job(http, service_id, parameters, results)
    job = read(http, f"/jobs/{job_id}")

    assert job["parameters"] == parameters
    assert job["results"] == results


def test_schema_with_nul_validates(http: httpx.Client) -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"k\u0000": {"const": "v\u0000"}}}
    service_id = created_service(http, "nul schema", "", schema)

    accepted = http.post(f"/services/{service_id}/jobs",
                         json={"parameters": {"k\u0000": "v\u0000"}})
    refused = http.post(f"/services/{service_id}/jobs", json={"parameters": {"k\u0000": "v"}})

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 400, refused.text
    assert read(http, f"/services/{service_id}")["job_registration_schema"] == schema


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.text(st.characters(exclude_characters="\x00", codec="utf-8"), min_size=1),
       description=text_without_nul, parameters=json_objects, results=json_objects)
def test_any_text_round_trips(server: ServerProcess, name: str, description: str,
                              parameters: Any, results: Any) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        service_id = created_service(http, name, description)
        job_id = finished_job(http, service_id, parameters, results)

        service = read(http, f"/services/{service_id}")
        job = read(http, f"/jobs/{job_id}")

    assert (service["name"], service["description"]) == (name, description)
    assert job["parameters"] == parameters
    assert job["results"] == results
