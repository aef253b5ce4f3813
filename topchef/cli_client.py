"""The client commands of ``topchef``: services, jobs, validate and worker.

They speak only the public HTTP API, through ``topchef.client``. Tables and
JSON go to standard output; messages, progress bars and logs to standard
error. Errors reach the one handler in ``topchef.cli``, which prints them and
exits non-zero.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from topchef import cli_output as output
from topchef.client import DEFAULT_URL, Client, Job, JobStatus, TopChefError, WaitTimeoutError

F = TypeVar("F", bound=Callable[..., Any])

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error")
STATUS_NAMES = [status.value for status in JobStatus]


def _option(*names: str, envvar: str, **settings: Any) -> Callable[[F], F]:
    """Return a click option that also reads ``envvar`` and shows it in ``--help``."""
    return click.option(*names, envvar=envvar, show_envvar=True, **settings)


def server_options(command: F) -> F:
    """Add ``--url`` and ``--token``, the server every client command talks to."""
    command = _option("--token", envvar="TOPCHEF_TOKEN", default=None,
                      help="Access token, sent as 'Authorization: Bearer TOKEN'; needed when "
                      "the server has tokens configured.")(command)
    return _option("--url", envvar="TOPCHEF_URL", default=DEFAULT_URL, show_default=True,
                   help="Base URL of the TopChef server.")(command)


json_option = _option("--json", "as_json", envvar="TOPCHEF_JSON", is_flag=True,
                      help="Print JSON for scripts instead of a table.")


def _read_json_text(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from exc


def _read_json_file(path: str, what: str) -> Any:
    with click.open_file(path, encoding="utf-8") as stream:
        try:
            text = stream.read()
        except UnicodeDecodeError as exc:
            raise click.BadParameter(f"{what} {path} is not UTF-8 text: {exc}") from exc
    return _read_json_text(text, f"{what} {path}")


def _count(number: int, noun: str) -> str:
    """Return "1 job" or "3 jobs"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _for_each(ids: tuple[str, ...], action: Callable[[str], str]) -> None:
    """Run ``action`` on every id, reporting each failure and going on with the rest.

    Exit non-zero at the end if any failed, naming them.
    """
    failed: list[str] = []
    for item_id in ids:
        try:
            click.echo(action(item_id), err=True)
        except TopChefError as exc:
            click.echo(f"{item_id}: {exc}", err=True)
            failed.append(item_id)
    if failed:
        raise click.ClickException(f"failed for {_count(len(failed), 'id')}: {', '.join(failed)}")


# Services

@click.group()
def services() -> None:
    """List, show, create and delete services."""


@services.command("list")
@server_options
@json_option
def services_list(url: str, token: str | None, as_json: bool) -> None:
    """List every service: its id, name and description."""
    with Client(url, token) as client:
        found = client.list_services()
    if as_json:
        output.echo_json(found)
    else:
        output.echo_services(found)


@services.command("show")
@click.argument("service_id")
@server_options
@json_option
def services_show(service_id: str, url: str, token: str | None, as_json: bool) -> None:
    """Show one service with its settings, schemas and job counts."""
    with Client(url, token) as client:
        service = client.get_service(service_id)
    if as_json:
        output.echo_json(service)
    else:
        output.echo_service(service)


@services.command("create")
@click.argument("name")
@_option("--job-registration-schema", envvar="TOPCHEF_JOB_REGISTRATION_SCHEMA", required=True,
         type=click.Path(exists=True, dir_okay=False),
         help="JSON file with the schema that job parameters must match.")
@_option("--job-result-schema", envvar="TOPCHEF_JOB_RESULT_SCHEMA", required=True,
         type=click.Path(exists=True, dir_okay=False),
         help="JSON file with the schema that job results must match.")
@_option("--description", envvar="TOPCHEF_DESCRIPTION", default="", help="What it does.")
@_option("--timeout", envvar="TOPCHEF_SERVICE_TIMEOUT", type=click.IntRange(min=1),
         help="Seconds the service may go without a check-in [server default: 30].")
@_option("--lease-seconds", envvar="TOPCHEF_LEASE_SECONDS", type=click.IntRange(1, 86400),
         help="Lease of a claim without a heartbeat, in seconds [server default: 60].")
@_option("--max-attempts", envvar="TOPCHEF_MAX_ATTEMPTS", type=click.IntRange(min=1),
         help="Claims a job gets before a failure is final [server default: 3].")
@_option("--retry-delay-seconds", envvar="TOPCHEF_RETRY_DELAY_SECONDS",
         type=click.FloatRange(min=0), help="Backoff before the first retry, in seconds.")
@_option("--retry-delay-max-seconds", envvar="TOPCHEF_RETRY_DELAY_MAX_SECONDS",
         type=click.FloatRange(min=0), help="Maximum backoff between retries, in seconds.")
@_option("--retention-seconds", envvar="TOPCHEF_RETENTION_SECONDS", type=click.IntRange(min=1),
         help="Delete finished jobs this many seconds old [default: keep them].")
@server_options
@json_option
def services_create(name: str, job_registration_schema: str, job_result_schema: str,
                    description: str, url: str, token: str | None, as_json: bool,
                    **settings: Any) -> None:
    """Register a service called NAME and print its id."""
    with Client(url, token) as client:
        service = client.create_service(
            name, description=description, job_registration_schema=Path(job_registration_schema),
            job_result_schema=Path(job_result_schema), **settings)
    click.echo(f"created service {service.name!r}", err=True)
    if as_json:
        output.echo_json(service)
    else:
        click.echo(service.id)


@services.command("delete")
@click.argument("service_ids", nargs=-1, required=True, metavar="SERVICE_ID...")
# No environment variable: an exported one would turn every later delete into a forced one.
@click.option("--force", is_flag=True,
              help="Delete also while some of the service's jobs are WORKING.")
@server_options
def services_delete(service_ids: tuple[str, ...], force: bool, url: str,
                    token: str | None) -> None:
    """Delete services with all their jobs."""
    with Client(url, token) as client:
        def delete(service_id: str) -> str:
            client.delete_service(service_id, force=force)
            return f"deleted service {service_id}"

        _for_each(service_ids, delete)


# Jobs

@click.group()
def jobs() -> None:
    """Submit, list, show, wait for, cancel and delete jobs."""


def _jsonl_parameters(stream: TextIO, name: str) -> Iterator[Any]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield _read_json_text(line, f"line {number} of {name}")


@jobs.command("submit")
@click.argument("service_id")
@click.argument("parameters", required=False)
@_option("--file", "jobs_file", envvar="TOPCHEF_JOBS_FILE", type=click.File("r"),
         help="JSON Lines file ('-' for standard input): one job's parameters per line, "
         "submitted in batches of up to 1000.")
@_option("--priority", envvar="TOPCHEF_PRIORITY", type=int, default=0, show_default=True,
         help="Higher priorities are claimed first.")
# No environment variable: an exported key would make every later submit return the first job.
@click.option("--idempotency-key",
              help="A repeat with this key returns the first job instead of a new one "
              "(single jobs only).")
@server_options
@json_option
def jobs_submit(service_id: str, parameters: str | None, jobs_file: TextIO | None, priority: int,
                idempotency_key: str | None, url: str, token: str | None,
                as_json: bool) -> None:
    """Submit a job with PARAMETERS (JSON) to a service, or many with --file; print the ids."""
    if (parameters is None) == (jobs_file is None):
        raise click.UsageError("give either PARAMETERS or --file")
    with Client(url, token) as client:
        if parameters is not None:
            submitted = [client.submit(service_id, _read_json_text(parameters, "PARAMETERS"),
                                       priority=priority, idempotency_key=idempotency_key)]
        else:
            assert jobs_file is not None  # checked above
            if idempotency_key is not None:
                raise click.UsageError("--idempotency-key applies to a single job, not to --file")
            submitted = _submit_file(client, service_id, jobs_file, priority=priority)
    click.echo(f"submitted {_count(len(submitted), 'job')}", err=True)
    if as_json:
        output.echo_json(submitted if jobs_file else submitted[0])
    else:
        for job in submitted:
            click.echo(job.id)


def _submit_file(client: Client, service_id: str, stream: TextIO, *, priority: int) -> list[Job]:
    # The whole file is read first, so that the progress bar can show the total.
    all_parameters = list(_jsonl_parameters(stream, stream.name))
    if not all_parameters:
        raise click.UsageError(f"{stream.name} contains no jobs")
    with click.progressbar(length=len(all_parameters), label="submitting",
                           file=sys.stderr) as bar:
        return client.submit_many(service_id, all_parameters, priority=priority,
                                  progress=bar.update)


@jobs.command("list")
@_option("--service", "service_id", envvar="TOPCHEF_SERVICE_ID", help="Only this service's jobs.")
@_option("--status", "statuses", envvar="TOPCHEF_STATUS", multiple=True,
         type=click.Choice(STATUS_NAMES, case_sensitive=False),
         help="Only jobs in this status; repeat for several.")
@_option("--limit", envvar="TOPCHEF_LIMIT", type=click.IntRange(min=1),
         help="Print at most this many jobs [default: all].")
@server_options
@json_option
def jobs_list(service_id: str | None, statuses: tuple[str, ...], limit: int | None, url: str,
              token: str | None, as_json: bool) -> None:
    """List jobs, oldest first, reading page after page from the server."""
    with Client(url, token) as client:
        found: list[Job] = []
        for job in client.list_jobs(service_id=service_id, status=statuses or None):
            if limit is not None and len(found) >= limit:
                break
            found.append(job)
    if as_json:
        output.echo_json(found)
    else:
        output.echo_table(output.JOB_COLUMNS, [output.job_row(job) for job in found])


@jobs.command("show")
@click.argument("job_id")
@server_options
@json_option
def jobs_show(job_id: str, url: str, token: str | None, as_json: bool) -> None:
    """Show one job with its parameters, results, lease and timings."""
    with Client(url, token) as client:
        job = client.get_job(job_id)
    if as_json:
        output.echo_json(job)
    else:
        output.echo_job(job)


@jobs.command("wait")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@_option("--timeout", envvar="TOPCHEF_WAIT_TIMEOUT", type=click.FloatRange(min=0),
         help="Give up after this many seconds in all [default: wait without limit].")
@server_options
@json_option
def jobs_wait(job_ids: tuple[str, ...], timeout: float | None, url: str, token: str | None,
              as_json: bool) -> None:
    """Wait until every job is COMPLETED or ERROR, and print them.

    Exits with status 1 if a job ended in ERROR or was not finished in time.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    finished: list[Job] = []
    unfinished: list[Job] = []
    with Client(url, token) as client, click.progressbar(
            job_ids, label="waiting", file=sys.stderr, hidden=len(job_ids) < 2) as bar:
        for job_id in bar:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                finished.append(client.wait(job_id, timeout=remaining))
            except WaitTimeoutError as exc:
                unfinished.append(exc.job)

    shown = finished + unfinished
    if as_json:
        output.echo_json(shown if len(job_ids) > 1 else shown[0])
    else:
        output.echo_table(output.JOB_COLUMNS, [output.job_row(job) for job in shown])
    failed = sum(job.status == JobStatus.ERROR for job in finished)
    problems = []
    if failed:
        problems.append(f"{failed} ended in ERROR")
    if unfinished:
        problems.append(f"{len(unfinished)} did not finish within {timeout:g} s")
    if problems:
        raise click.ClickException(f"of {_count(len(job_ids), 'job')}, {' and '.join(problems)}")


@jobs.command("cancel")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@server_options
def jobs_cancel(job_ids: tuple[str, ...], url: str, token: str | None) -> None:
    """Cancel jobs: a REGISTERED one at once, a WORKING one when its worker hears of it."""
    with Client(url, token) as client:
        def cancel(job_id: str) -> str:
            job = client.cancel(job_id)
            state = "cancelled" if job.status == JobStatus.ERROR else "cancellation requested"
            return f"job {job_id}: {state}"

        _for_each(job_ids, cancel)


@jobs.command("delete")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@server_options
def jobs_delete(job_ids: tuple[str, ...], url: str, token: str | None) -> None:
    """Delete jobs that are not WORKING."""
    with Client(url, token) as client:
        def delete(job_id: str) -> str:
            client.delete_job(job_id)
            return f"deleted job {job_id}"

        _for_each(job_ids, delete)


# Validation

@click.command()
@click.argument("schema_file", metavar="SCHEMA",
                type=click.Path(exists=True, dir_okay=False, allow_dash=False))
@click.argument("instance_file", metavar="INSTANCE",
                type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@json_option
def validate(schema_file: str, instance_file: str, as_json: bool) -> None:
    """Check the JSON in INSTANCE against the JSON Schema in SCHEMA, as the server would.

    Prints each violation with its JSON Pointer and exits with status 1 if
    there are any. INSTANCE may be '-' for standard input.
    """
    from topchef.broker.errors import InvalidInput
    from topchef.broker.schemas import CompiledSchema

    schema = _read_json_file(schema_file, "the schema file")
    instance = _read_json_file(instance_file, "the instance file")
    try:
        compiled = CompiledSchema(schema, field=schema_file)
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from exc

    violations = compiled.violations(instance)
    if as_json:
        output.echo_json([{"path": v.pointer, "message": v.message} for v in violations])
    else:
        for violation in violations:
            click.echo(violation.describe(instance_file))
    if violations:
        raise click.ClickException(f"{instance_file} breaks {schema_file} in "
                                   f"{_count(len(violations), 'place')}")
    click.echo(f"{instance_file} is valid against {schema_file}", err=True)


# Worker

def load_worker(target: str, app_dir: str) -> Any:
    """Import ``module:attribute`` with ``app_dir`` first on the import path."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(f"{target!r} is not of the form module:attribute",
                                 param_hint="TARGET")
    sys.path.insert(0, str(Path(app_dir).resolve()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}",
                                 param_hint="TARGET") from exc
    found = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise click.BadParameter(f"{module_name!r} has no attribute {attribute!r}",
                                     param_hint="TARGET") from None
    return found


@click.command("worker")
@click.argument("target", metavar="MODULE:ATTRIBUTE")
@_option("--concurrency", envvar="TOPCHEF_CONCURRENCY", type=click.IntRange(1, 100), default=1,
         show_default=True, help="Jobs run at once: threads for a blocking function, tasks for "
         "an async one.")
@_option("--grace-seconds", envvar="TOPCHEF_GRACE_SECONDS", type=click.FloatRange(min=0),
         default=30.0, show_default=True,
         help="After SIGTERM or SIGINT, how long running jobs may take to finish before they "
         "are released to the queue.")
@_option("--worker-name", envvar="TOPCHEF_WORKER_NAME",
         help="The name claims carry [default: HOST-PID].")
@_option("--service-id", envvar="TOPCHEF_SERVICE_ID",
         help="Take the jobs of the service with this id, in place of the service the worker "
         "names; needed where several services share that name.")
@_option("--app-dir", envvar="TOPCHEF_APP_DIR", default=".", show_default=True,
         type=click.Path(file_okay=False), help="Directory to import MODULE from.")
@_option("--log-level", envvar="TOPCHEF_LOG_LEVEL", default="info", show_default=True,
         type=click.Choice(LOG_LEVELS))
@server_options
def worker_command(target: str, concurrency: int, grace_seconds: float,
                   worker_name: str | None, service_id: str | None, app_dir: str,
                   log_level: str, url: str, token: str | None) -> None:
    """Run the worker that MODULE:ATTRIBUTE names until SIGTERM or SIGINT.

    A second SIGTERM or SIGINT ends the grace period at once.
    """
    from topchef.worker import Worker

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # httpx logs every request at INFO; the worker logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    found = load_worker(target, app_dir)
    if not isinstance(found, Worker):
        raise click.BadParameter(f"{target} is a {type(found).__name__}, not a Worker; "
                                 "decorate the function with @topchef.worker.worker(...)",
                                 param_hint="MODULE:ATTRIBUTE")
    if service_id is not None:
        found.attach_to(service_id)
    found.run(url, token=token, concurrency=concurrency, grace_seconds=grace_seconds,
              name=worker_name)
