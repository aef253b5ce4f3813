"""The ``topchef`` client commands against a real server: services, jobs and validate.

The commands run in this process through click's test runner; the server is
the session's real one. Each test sets TOPCHEF_URL, as a user's shell would.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.e2e.conftest import ServerProcess, free_port
from topchef.cli import main
from topchef.client import Client, JobStatus

pytestmark = pytest.mark.e2e

PARAMETERS_SCHEMA = {"type": "object", "properties": {"value": {"type": "integer"}},
                     "required": ["value"]}
RESULTS_SCHEMA = {"type": "object", "properties": {"result": {"type": "integer"}},
                  "required": ["result"]}


def run(server: ServerProcess, *args: str, input: str | None = None) -> Result:
    runner = CliRunner(env={"TOPCHEF_URL": server.url, "TOPCHEF_TOKEN": None})
    return runner.invoke(main, list(args), input=input, catch_exceptions=False)


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def schema_files(tmp_path: Path) -> tuple[str, str]:
    parameters = tmp_path / "parameters.schema.json"
    parameters.write_text(json.dumps(PARAMETERS_SCHEMA))
    results = tmp_path / "results.schema.json"
    results.write_text(json.dumps(RESULTS_SCHEMA))
    return str(parameters), str(results)


@pytest.fixture
def service_id(server: ServerProcess, tmp_path: Path) -> str:
    parameters, results = schema_files(tmp_path)
    name = f"cli-{uuid.uuid4().hex[:8]}"
    output = ok(run(server, "services", "create", name, "--job-registration-schema", parameters,
                    "--job-result-schema", results, "--description", "from the CLI test",
                    "--lease-seconds", "45"))
    return output.strip()


def test_services_create_show_list(server: ServerProcess, service_id: str) -> None:
    shown = json.loads(ok(run(server, "services", "show", service_id, "--json")))
    table = ok(run(server, "services", "show", service_id))
    listed = ok(run(server, "services", "list"))

    assert shown["id"] == service_id
    assert shown["lease_seconds"] == 45
    assert shown["job_registration_schema"] == PARAMETERS_SCHEMA
    assert "from the CLI test" in table
    assert "lease" in table
    assert listed.splitlines()[0].split() == ["ID", "NAME", "DESCRIPTION"]
    assert service_id in listed


def test_services_list_json(server: ServerProcess, service_id: str) -> None:
    listed = json.loads(ok(run(server, "services", "list", "--json")))
    assert service_id in [service["id"] for service in listed]


def test_jobs_submit_show_list(server: ServerProcess, service_id: str) -> None:
    submitted = run(server, "jobs", "submit", service_id, '{"value": 1}', "--priority", "3")
    job_id = ok(submitted).strip()
    shown = json.loads(ok(run(server, "jobs", "show", job_id, "--json")))
    table = ok(run(server, "jobs", "show", job_id))
    listed = ok(run(server, "jobs", "list", "--service", service_id, "--status", "registered"))

    assert shown["parameters"] == {"value": 1}
    assert shown["priority"] == 3
    assert shown["status"] == "REGISTERED"
    assert '{"value": 1}' in table
    assert listed.splitlines()[0].split()[:2] == ["ID", "STATUS"]
    assert job_id in listed


def test_jobs_submit_idempotency_key(server: ServerProcess, service_id: str) -> None:
    first = run(server, "jobs", "submit", service_id, '{"value": 7}', "--idempotency-key", "k1")
    again = run(server, "jobs", "submit", service_id, '{"value": 7}', "--idempotency-key", "k1")
    assert ok(first) == ok(again)


def test_jobs_submit_file_in_batches(server: ServerProcess, service_id: str,
                                     tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.jsonl"
    jobs_file.write_text("\n".join(json.dumps({"value": v}) for v in range(1500)) + "\n\n")

    result = run(server, "jobs", "submit", service_id, "--file", str(jobs_file))

    ids = ok(result).split()
    assert len(ids) == 1500
    assert len(set(ids)) == 1500
    assert "submitting" in result.stderr
    assert "submitted 1500 jobs" in result.stderr
    listed = json.loads(ok(run(server, "jobs", "list", "--service", service_id, "--json")))
    assert [job["parameters"]["value"] for job in listed] == list(range(1500))


def test_jobs_submit_file_from_stdin(server: ServerProcess, service_id: str) -> None:
    result = run(server, "jobs", "submit", service_id, "--file", "-", "--json",
                 input='{"value": 1}\n{"value": 2}\n')
    submitted = json.loads(ok(result))
    assert [job["parameters"] for job in submitted] == [{"value": 1}, {"value": 2}]


def test_jobs_submit_violation_lists_paths(server: ServerProcess, service_id: str) -> None:
    result = run(server, "jobs", "submit", service_id, '{"value": "one", "extra": 1}')
    assert result.exit_code == 1
    assert "parameters at /value" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_jobs_submit_bad_line_named(server: ServerProcess, service_id: str,
                                    tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.jsonl"
    jobs_file.write_text('{"value": 1}\n{"value": \n')
    result = run(server, "jobs", "submit", service_id, "--file", str(jobs_file))
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_jobs_list_limit(server: ServerProcess, service_id: str) -> None:
    for value in range(3):
        ok(run(server, "jobs", "submit", service_id, json.dumps({"value": value})))
    listed = json.loads(ok(run(server, "jobs", "list", "--service", service_id, "--limit", "2",
                               "--json")))
    assert len(listed) == 2


def test_jobs_wait_completed_and_timeout(server: ServerProcess, service_id: str) -> None:
    done_id = ok(run(server, "jobs", "submit", service_id, '{"value": 1}')).strip()
    waiting_id = ok(run(server, "jobs", "submit", service_id, '{"value": 2}')).strip()
    with Client(server.url) as client:
        leases = {job.id: job.lease.token for job in client.claim(service_id, limit=2)
                  if job.lease is not None and job.lease.token is not None}
        client.complete(done_id, {"result": 2}, lease=leases[done_id])

    finished = run(server, "jobs", "wait", done_id, "--json")
    both = run(server, "jobs", "wait", done_id, waiting_id, "--timeout", "0.5", "--json")

    assert json.loads(ok(finished))["results"] == {"result": 2}
    assert both.exit_code == 1
    statuses = {job["id"]: job["status"] for job in json.loads(both.stdout)}
    assert statuses == {done_id: "COMPLETED", waiting_id: "WORKING"}
    assert "of 2 jobs, 1 did not finish within 0.5 s" in both.stderr
    assert "waiting" in both.stderr


def test_jobs_cancel_and_delete(server: ServerProcess, service_id: str) -> None:
    job_id = ok(run(server, "jobs", "submit", service_id, '{"value": 1}')).strip()

    cancelled = run(server, "jobs", "cancel", job_id)
    deleted = run(server, "jobs", "delete", job_id)
    missing = run(server, "jobs", "show", job_id)

    assert f"job {job_id}: cancelled" in cancelled.stderr
    assert f"deleted job {job_id}" in deleted.stderr
    assert missing.exit_code == 1
    assert f"job {job_id} not found" in missing.stderr


def test_services_delete(server: ServerProcess, service_id: str) -> None:
    ok(run(server, "services", "delete", service_id))
    missing = run(server, "services", "show", service_id)
    assert missing.exit_code == 1
    assert f"service {service_id} not found" in missing.stderr


def test_unreachable_server_one_line(server: ServerProcess) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["services", "list", "--url", url])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: GET")
    assert "is the TopChef server" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_environment_variables(server: ServerProcess) -> None:
    for command in (["jobs", "submit"], ["services", "create"], ["worker"], ["jobs", "wait"]):
        shown = ok(run(server, *command, "--help"))
        assert "TOPCHEF_URL" in shown, command
        assert "TOPCHEF_TOKEN" in shown, command


def _write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def test_validate_valid(server: ServerProcess, tmp_path: Path) -> None:
    schema = _write(tmp_path / "schema.json", PARAMETERS_SCHEMA)
    instance = _write(tmp_path / "instance.json", {"value": 1})
    result = run(server, "validate", schema, instance)
    assert ok(result) == ""
    assert "is valid" in result.stderr


def test_validate_violations(server: ServerProcess, tmp_path: Path) -> None:
    schema = _write(tmp_path / "schema.json",
                    {**PARAMETERS_SCHEMA, "properties": {"value": {"type": "integer"},
                                                         "name": {"maxLength": 2}}})
    result = run(server, "validate", schema, "-", "--json", input='{"name": "long"}')
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert {"path": "/name", "message": '"long" is longer than 2 characters'} in found
    assert {v["path"] for v in found} == {"", "/name"}
    assert "breaks" in result.stderr


def test_validate_invalid_schema(server: ServerProcess, tmp_path: Path) -> None:
    schema = _write(tmp_path / "schema.json", {"type": "integer", "minimum": "zero"})
    instance = _write(tmp_path / "instance.json", 1)
    result = run(server, "validate", schema, instance)
    assert result.exit_code == 1
    assert "not a valid JSON Schema" in result.stderr


def test_job_status_column_reads_enum(server: ServerProcess, service_id: str) -> None:
    job_id = ok(run(server, "jobs", "submit", service_id, '{"value": 1}')).strip()
    listed = ok(run(server, "jobs", "list", "--service", service_id))
    row = next(line for line in listed.splitlines() if line.startswith(job_id))
    assert row.split()[1] == JobStatus.REGISTERED.value
