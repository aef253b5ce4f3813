"""A Rabi/Ramsey experiment service with photon-count results, driven like a lab would.

The parameter schema is a Draft 4 ``oneOf`` of a Ramsey and a Rabi sub-schema,
distinguished by ``type``. The result schema requires three non-negative counts
and a ``time_completed`` string. Both schemas come from a real experiment setup
and are read from the fixture files that FIXTURES names, outside the repository.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.classic import (
    create_service,
    details,
    error_entries,
    patch_job,
    read_all_pages,
    read_job,
    submit_job,
    titles,
)

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parents[3] / "shared" / "fixtures"
EXPERIMENT_SCHEMA_FILE = FIXTURES / "rabi-ramsey-experiment.schema.json"
RESULT_SCHEMA_FILE = FIXTURES / "photon-count-result.schema.json"

VALID_JOBS = [
    {"type": "RAMSEY", "wait_time": 1.5, "pulse_time": 0.2, "pulse_phase": 3.14},
    {"type": "RABI", "pulse_time": 0.5},
    {
        "type": "RAMSEY", "wait_time": 0, "pulse_time": 0.25, "pulse_phase": 6.29,
        "number_of_repetitions": 1000,
    },
    {"type": "RABI", "pulse_time": 12, "number_of_repetitions": 0},
]

# Each invalid job with the fragments that the error details must contain:
# the JSON Pointer of every wrong value, or the name of every missing property.
INVALID_JOBS = [
    pytest.param(
        {"type": "RAMSEY", "wait_time": 1.5, "pulse_time": 0.2}, ['"pulse_phase"'],
        id="ramsey-missing-phase",
    ),
    pytest.param(
        {"type": "RAMSEY", "wait_time": 1.5, "pulse_time": 0.2, "pulse_phase": 7},
        ["/pulse_phase"],
        id="ramsey-phase-above-maximum",
    ),
    pytest.param(
        {"type": "RAMSEY", "wait_time": -1, "pulse_time": 0.2, "pulse_phase": 7},
        ["/wait_time", "/pulse_phase"],
        id="ramsey-two-wrong-values",
    ),
    pytest.param(
        {"type": "RAMSEY", "wait_time": 1, "pulse_time": 0.2, "pulse_phase": 1,
         "number_of_repetitions": 2.5},
        ["/number_of_repetitions"],
        id="ramsey-fractional-repetitions",
    ),
    pytest.param({"type": "RABI", "pulse_time": -1}, ["/pulse_time"], id="rabi-negative-pulse"),
    pytest.param(
        {"type": "RABI", "pulse_time": -1, "number_of_repetitions": 1.5},
        ["/pulse_time", "/number_of_repetitions"],
        id="rabi-two-wrong-values",
    ),
    pytest.param({"type": "RABI", "pulse_time": "fast"}, ["/pulse_time"], id="rabi-string-pulse"),
    pytest.param({"type": "RABI"}, ['"pulse_time"'], id="rabi-missing-pulse"),
    pytest.param({"type": "RAMSAY", "pulse_time": 1}, ["/type"], id="unknown-type"),
    pytest.param([{"type": "RABI", "pulse_time": 1}], ['"object"'], id="not-an-object"),
]

VALID_RESULTS = {
    "light_count": 120, "dark_count": 30, "result_count": 150,
    "time_completed": "2017-08-15T18:29:07.902093+00:00",
}

INVALID_RESULTS = [
    pytest.param({**VALID_RESULTS, "light_count": -1}, ["/light_count"], id="negative-count"),
    pytest.param({**VALID_RESULTS, "dark_count": 2.5}, ["/dark_count"], id="fractional-count"),
    pytest.param({**VALID_RESULTS, "result_count": "150"}, ["/result_count"], id="string-count"),
    pytest.param(
        {key: value for key, value in VALID_RESULTS.items() if key != "time_completed"},
        ['"time_completed"'],
        id="missing-time",
    ),
    pytest.param({}, ['"light_count"', '"dark_count"', '"result_count"'], id="empty"),
    pytest.param([VALID_RESULTS], ['"object"'], id="not-an-object"),
]


def load_schema(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.skip(f"experiment schema fixture not found at {path}")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.fixture
def service_id(http: httpx.Client) -> str:
    """A new service that takes Rabi or Ramsey parameters and photon-count results."""
    return create_service(
        http,
        registration_schema=load_schema(EXPERIMENT_SCHEMA_FILE),
        result_schema=load_schema(RESULT_SCHEMA_FILE),
        name="Rabi and Ramsey experiments",
    )


def all_job_ids(http: httpx.Client) -> list[str]:
    return [job["id"] for job in read_all_pages(http, "/jobs")]


def service_jobs(http: httpx.Client, service_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/services/{service_id}/jobs")
    assert response.status_code == 200, response.text
    jobs: list[dict[str, Any]] = response.json()["data"]
    return jobs


def measure(parameters: dict[str, Any]) -> dict[str, Any]:
    """Return made-up photon counts for an experiment, in the shape the result schema requires."""
    repetitions = parameters.get("number_of_repetitions", 1)
    light_count = int(parameters["pulse_time"] * 100) * repetitions
    dark_count = repetitions
    return {
        "light_count": light_count,
        "dark_count": dark_count,
        "result_count": light_count + dark_count,
        "time_completed": datetime.now(UTC).isoformat(),
    }


def working_job(http: httpx.Client, service_id: str) -> dict[str, Any]:
    job = submit_job(http, service_id, VALID_JOBS[0])
    return patch_job(http, job["id"], {"status": "WORKING"})


def test_schema_service_detail(http: httpx.Client, service_id: str) -> None:
    service = http.get(f"/services/{service_id}").json()["data"]

    assert service["job_registration_schema"] == load_schema(EXPERIMENT_SCHEMA_FILE)
    assert service["job_result_schema"] == load_schema(RESULT_SCHEMA_FILE)


@pytest.mark.parametrize("parameters", VALID_JOBS, ids=lambda p: p["type"].lower())
def test_valid_job_stored(http: httpx.Client, service_id: str, parameters: dict[str, Any]) -> None:
    created = submit_job(http, service_id, parameters)

    stored = read_job(http, created["id"])
    assert stored["status"] == "REGISTERED"
    assert stored["parameters"] == parameters
    assert stored["results"] is None


@pytest.mark.parametrize(("parameters", "fragments"), INVALID_JOBS)
def test_invalid_job_rejected(
    http: httpx.Client, service_id: str, parameters: Any, fragments: list[str]
) -> None:
    submit_job(http, service_id, VALID_JOBS[1])
    jobs_before = all_job_ids(http)

    response = http.post(f"/services/{service_id}/jobs", json={"parameters": parameters})

    entries = error_entries(response, 400)
    assert titles(entries) == {"Schema Violation"}
    for fragment in fragments:
        assert fragment in details(entries), f"{fragment} not named in {details(entries)}"
    assert all_job_ids(http) == jobs_before
    assert len(service_jobs(http, service_id)) == 1


def test_worker_completes_valid_jobs(http: httpx.Client, service_id: str) -> None:
    submitted: list[str] = []
    for valid, invalid in zip(VALID_JOBS, INVALID_JOBS, strict=False):
        submitted.append(submit_job(http, service_id, valid)["id"])
        rejected = http.post(f"/services/{service_id}/jobs", json={"parameters": invalid.values[0]})
        assert rejected.status_code == 400, rejected.text

    dispatched: list[str] = []
    sent_results: dict[str, dict[str, Any]] = {}
    for _ in range(len(VALID_JOBS) + 1):
        response = http.get(f"/services/{service_id}/jobs/next")
        if response.status_code == 204:
            break
        assert response.status_code == 200, response.text
        job = response.json()["data"]
        dispatched.append(job["id"])

        patch_job(http, job["id"], {"status": "WORKING"})
        sent_results[job["id"]] = measure(job["parameters"])
        patch_job(http, job["id"], {"status": "COMPLETED", "results": sent_results[job["id"]]})

    assert dispatched == submitted
    assert http.get(f"/services/{service_id}/queue").status_code == 204
    for job in service_jobs(http, service_id):
        assert job["status"] == "COMPLETED", job
        assert job["results"] == sent_results[job["id"]], job


@pytest.mark.parametrize(("results", "fragments"), INVALID_RESULTS)
def test_invalid_results_rejected(
    http: httpx.Client, service_id: str, results: Any, fragments: list[str]
) -> None:
    job = working_job(http, service_id)

    response = http.patch(f"/jobs/{job['id']}", json={"status": "COMPLETED", "results": results})

    entries = error_entries(response, 400)
    assert titles(entries) == {"Schema Violation"}
    for fragment in fragments:
        assert fragment in details(entries), f"{fragment} not named in {details(entries)}"
    stored = read_job(http, job["id"])
    assert stored["status"] == "WORKING"
    assert stored["results"] is None


def test_invalid_results_alone_rejected(http: httpx.Client, service_id: str) -> None:
    job = working_job(http, service_id)

    response = http.patch(f"/jobs/{job['id']}", json={"results": {"light_count": -1}})

    error_entries(response, 400)
    assert read_job(http, job["id"]) == job


def test_invalid_results_keep_stored_ones(http: httpx.Client, service_id: str) -> None:
    job = working_job(http, service_id)
    patch_job(http, job["id"], {"results": VALID_RESULTS})

    response = http.patch(
        f"/jobs/{job['id']}", json={"status": "COMPLETED", "results": {"light_count": -1}}
    )

    error_entries(response, 400)
    stored = read_job(http, job["id"])
    assert stored["status"] == "WORKING"
    assert stored["results"] == VALID_RESULTS


def test_time_format_not_asserted(http: httpx.Client, service_id: str) -> None:
    # "format" is an annotation: a time_completed that is no date-time still validates.
    job = working_job(http, service_id)
    results = {**VALID_RESULTS, "time_completed": "yesterday, late"}

    completed = patch_job(http, job["id"], {"status": "COMPLETED", "results": results})

    assert completed["status"] == "COMPLETED"
    assert completed["results"] == results
