"""Every operation the OpenAPI document describes, with request and response examples.

The table also lists operations that other parts of the server add (the event
stream, the dashboard); ``/openapi.json`` shows only those the running app
serves.
"""

from __future__ import annotations

from typing import Any

from topchef.api import query, schemas
from topchef.api.openapi import Operation, Param, envelope, enveloped_example, json_content, list_of

SERVICE_ID = "8d3a2f0e-5b1c-4c7a-9f2e-1a2b3c4d5e6f"
JOB_ID = "0f6c1e2d-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
TIME = "2026-12-04T18:29:07.902093+00:00"
LEASE_TOKEN = "kG3v0Zr8yQ2mX1b9tL5wN7pA4sD6fH0j"

JOB_EXAMPLE = {"id": JOB_ID, "status": "REGISTERED", "parameters": {"value": 1},
               "results": None, "date_submitted": TIME}
JOB_OVERVIEW_EXAMPLE = {"id": JOB_ID, "status": "REGISTERED", "date_submitted": TIME}
CLAIMED_JOB_EXAMPLE = {
    **JOB_EXAMPLE, "status": "WORKING", "service_id": SERVICE_ID, "priority": 0, "attempt": 1,
    "worker": "worker-1",
    "lease": {"token": LEASE_TOKEN, "expires_at": TIME, "worker": "worker-1", "attempt": 1},
    "date_started": TIME, "date_finished": None, "visible_at": None,
    "cancel_requested": False, "error": None,
}
SERVICE_OVERVIEW_EXAMPLE = {"id": SERVICE_ID, "name": "Add One",
                            "description": "Adds one to a given number"}
NEW_SERVICE_EXAMPLE = {
    "name": "Add One",
    "description": "Adds one to a given number",
    "job_registration_schema": {"type": "object", "properties": {"value": {"type": "integer"}},
                                "required": ["value"]},
    "job_result_schema": {"type": "object", "properties": {"result": {"type": "integer"}},
                          "required": ["result"]},
    "lease_seconds": 120,
    "max_attempts": 3,
}
SERVICE_EXAMPLE = {
    **SERVICE_OVERVIEW_EXAMPLE,
    "job_registration_schema": NEW_SERVICE_EXAMPLE["job_registration_schema"],
    "job_result_schema": NEW_SERVICE_EXAMPLE["job_result_schema"],
    "is_service_available": True, "has_timed_out": False, "timeout": 30,
    "jobs": [JOB_OVERVIEW_EXAMPLE],
}

SERVICES_TAG, JOBS_TAG, WORKERS_TAG, OPERATIONS_TAG, DOCS_TAG = (
    "services", "jobs", "workers", "operations", "documentation")

VIEW = Param("view", "query", "classic (default: the strict classic fields) or full (every "
             "field)", {"type": "string", "enum": list(query.VIEWS)})
LIMIT = Param("limit", "query", f"page size, default {query.DEFAULT_PAGE_SIZE}",
              {"type": "integer", "minimum": 1, "maximum": query.MAX_PAGE_SIZE})
CURSOR = Param("cursor", "query", "the opaque cursor from the previous page's links.next")
STATUS = Param("status", "query", "only jobs in these statuses, comma-separated, any case")
WAIT = Param("wait_seconds", "query", "hold the request open until the job is COMPLETED or "
             "ERROR, at most this long", {"type": "number", "minimum": 0,
                                          "maximum": schemas.MAX_WAIT_SECONDS})


def ok(description: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema, example)}


def either_view(classic: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """Return a schema for data in the classic view or, with ``view=full``, the full one."""
    return {"anyOf": [classic, full]}


NO_CONTENT = {"description": "Nothing to return"}
JOB = envelope(either_view(schemas.JOB_SCHEMA, schemas.JOB_FULL_SCHEMA))
JOB_FULL = envelope(schemas.JOB_FULL_SCHEMA)
JOBS = envelope(list_of(either_view(schemas.JOB_SCHEMA, schemas.JOB_FULL_SCHEMA)))
SERVICE = envelope(either_view(schemas.SERVICE_SCHEMA, schemas.SERVICE_FULL_SCHEMA))
CLAIMED = envelope({"anyOf": [schemas.JOB_FULL_SCHEMA, list_of(schemas.JOB_FULL_SCHEMA)]})

CLASSIC = [
    Operation("GET", "/", "API metadata: maintainer, documentation and version", SERVICES_TAG,
              {"200": ok("API metadata", envelope(schemas.API_METADATA_SCHEMA))}),
    Operation("GET", "/services", "List services (overviews)", SERVICES_TAG,
              {"200": ok("The services", envelope(list_of(schemas.SERVICE_OVERVIEW_SCHEMA)),
                         enveloped_example([SERVICE_OVERVIEW_EXAMPLE]))}),
    Operation("POST", "/services", "Create a service from its two JSON Schemas", SERVICES_TAG,
              {"201": ok("Created; Location names the new service",
                         envelope({"type": "object"}),
                         enveloped_example({"message": "service successfully created",
                                            "id": SERVICE_ID})),
               "400": {}, "413": {}, "503": {}},
              request_schema=schemas.NEW_SERVICE_SCHEMA, request_example=NEW_SERVICE_EXAMPLE),
    Operation("GET", "/services/{service_id}", "Service detail with its newest jobs", SERVICES_TAG,
              {"200": ok("The service", SERVICE, enveloped_example(SERVICE_EXAMPLE)), "404": {}},
              parameters=(VIEW,)),
    Operation("PATCH", "/services/{service_id}", "Check in; the optional body changes settings",
              SERVICES_TAG, {"200": ok("The service after the check-in", SERVICE), "400": {},
                         "404": {}},
              parameters=(VIEW,), request_schema=schemas.SERVICE_PATCH_SCHEMA,
              request_example={"is_available": True, "lease_seconds": 300},
              request_required=False),
    Operation("DELETE", "/services/{service_id}", "Delete a service and its jobs", SERVICES_TAG,
              {"204": NO_CONTENT, "404": {}, "409": {}},
              parameters=(Param("force", "query", "delete even while jobs are WORKING",
                                {"type": "boolean"}),)),
    Operation("GET", "/services/{service_id}/jobs", "List a service's jobs, one page", JOBS_TAG,
              {"200": ok("One page of jobs; links.next continues", JOBS,
                         enveloped_example([JOB_EXAMPLE])), "400": {}, "404": {}},
              parameters=(STATUS, LIMIT, CURSOR, VIEW)),
    Operation("POST", "/services/{service_id}/jobs", "Submit a job", JOBS_TAG,
              {"201": ok("Created; Location names the job", JOB, enveloped_example(JOB_EXAMPLE)),
               "200": ok("The job an earlier request with this Idempotency-Key created", JOB),
               "400": {}, "404": {}, "409": {}, "413": {}, "503": {}},
              parameters=(VIEW, Param("Idempotency-Key", "header", "a repeated submission with "
                                      "this key returns the first job instead of a new one")),
              request_schema=schemas.new_job_schema({}),
              request_example={"parameters": {"value": 1}, "priority": 5}),
    Operation("POST", "/services/{service_id}/jobs/batch", "Submit many jobs in one transaction",
              JOBS_TAG, {"201": ok("The created jobs", JOBS),
                     "400": {}, "404": {}, "413": {}, "503": {}},
              parameters=(VIEW,), request_schema=schemas.BATCH_REQUEST_SCHEMA,
              request_example={"jobs": [{"parameters": {"value": 1}},
                                        {"parameters": {"value": 2}, "priority": 1}]}),
    Operation("GET", "/services/{service_id}/queue", "The next REGISTERED jobs in dispatch order",
              JOBS_TAG, {"200": ok("Up to 10 jobs", envelope(list_of(schemas.JOB_SCHEMA))),
                     "204": NO_CONTENT, "404": {}}),
    Operation("GET", "/services/{service_id}/jobs/next", "The next job, without claiming it",
              JOBS_TAG, {"200": ok("The job", JOB), "204": NO_CONTENT, "404": {}}),
    Operation("POST", "/services/{service_id}/jobs/next", "Claim jobs under a lease",
              WORKERS_TAG, {"200": ok("The claimed job (a list when limit is sent), with its lease",
                                  CLAIMED, enveloped_example(CLAIMED_JOB_EXAMPLE)),
                        "204": NO_CONTENT, "400": {}, "404": {}, "503": {}},
              request_schema=schemas.CLAIM_REQUEST_SCHEMA, request_required=False,
              request_example={"worker": "worker-1", "lease_seconds": 60, "wait_seconds": 5}),
    Operation("GET", "/jobs", "List jobs, one page", JOBS_TAG,
              {"200": ok("One page of job overviews", envelope(list_of(either_view(
                  schemas.JOB_OVERVIEW_SCHEMA, schemas.JOB_FULL_SCHEMA))),
                  enveloped_example([JOB_OVERVIEW_EXAMPLE])),
               "400": {}},
              parameters=(Param("service_id", "query", "only this service's jobs",
                                {"type": "string", "format": "uuid"}),
                          STATUS, LIMIT, CURSOR, VIEW)),
    Operation("GET", "/jobs/{job_id}", "Job detail, optionally waiting for its result", JOBS_TAG,
              {"200": ok("The job", JOB, enveloped_example(JOB_EXAMPLE)), "400": {}, "404": {}},
              parameters=(WAIT, VIEW)),
    Operation("PATCH", "/jobs/{job_id}", "Change a job's status and/or results", WORKERS_TAG,
              {"200": ok("The job after the change", JOB), "400": {}, "404": {}, "409": {}},
              parameters=(VIEW,), request_schema=schemas.JOB_PATCH_SCHEMA,
              request_example={"status": "COMPLETED", "results": {"result": 2},
                               "lease": LEASE_TOKEN}),
    Operation("DELETE", "/jobs/{job_id}", "Delete a job that is not WORKING", JOBS_TAG,
              {"204": NO_CONTENT, "404": {}, "409": {}}),
    Operation("POST", "/jobs/{job_id}/heartbeat", "Extend a job's lease", WORKERS_TAG,
              {"200": ok("The job with its new lease", JOB_FULL), "400": {}, "404": {},
               "409": {}},
              request_schema=schemas.HEARTBEAT_REQUEST_SCHEMA,
              request_example={"lease": LEASE_TOKEN, "lease_seconds": 120}),
    Operation("POST", "/jobs/{job_id}/fail", "Report a failure, with or without a retry",
              WORKERS_TAG, {"200": ok("The job, requeued or ERROR", JOB_FULL), "400": {},
                        "404": {}, "409": {}},
              request_schema=schemas.FAILURE_REPORT_SCHEMA,
              request_example={"lease": LEASE_TOKEN, "error": "ValueError: value too large",
                               "retry": True}),
    Operation("POST", "/jobs/{job_id}/cancel", "Cancel a job", JOBS_TAG,
              {"200": ok("Cancelled: the job is ERROR", JOB_FULL),
               "202": ok("Cancellation requested; the WORKING job stops at its next "
                         "heartbeat", JOB_FULL), "404": {}, "409": {}}),
    Operation("GET", "/validator", "Describe the validator's request body", SERVICES_TAG,
              {"200": ok("An empty data object; meta.validator_schema", envelope())}),
    Operation("POST", "/validator", "Validate an object against a JSON Schema", SERVICES_TAG,
              {"200": ok("The object is valid", envelope(),
                         enveloped_example({"status": "Validation was successful"})),
               "400": {}},
              request_schema=schemas.VALIDATOR_REQUEST_SCHEMA,
              request_example={"schema": {"type": "integer", "minimum": 0}, "object": 3}),
]

TEXT = {"text/plain": {"schema": {"type": "string"}}}
STATUS_DATA = envelope({"type": "object", "properties": {"status": {"type": "string"}}})

OPERATIONS_ENDPOINTS = [
    Operation("GET", "/metrics", "Prometheus metrics in the text exposition format",
              OPERATIONS_TAG, {"200": {"description": "The metrics (text/plain; version=0.0.4)",
                                       "content": TEXT}, "503": {}}),
    Operation("GET", "/healthz", "Liveness: 200 while the process serves requests",
              OPERATIONS_TAG, {"200": ok("Alive", STATUS_DATA,
                                         enveloped_example({"status": "alive"}))}),
    Operation("GET", "/readyz", "Readiness: the database answers and its schema is current",
              OPERATIONS_TAG, {"200": ok("Ready", STATUS_DATA,
                                         enveloped_example({"status": "ready"})),
                               "503": {}}),
    Operation("GET", "/openapi.json", "This document", DOCS_TAG,
              {"200": ok("The OpenAPI 3.1 document", {"type": "object"})}),
    Operation("GET", "/docs", "Interactive documentation of this API", DOCS_TAG,
              {"200": {"description": "An HTML page", "content": {
                  "text/html": {"schema": {"type": "string"}}}}}),
]

SSE_EVENT_SCHEMA = {
    "description": "One Server-Sent Event: `data` is a JSON object with the fields id, type, "
                   "at, service_id, job_id, status, attempt, worker and detail",
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
"""The shape of each event in the stream, as a reader of ``text/event-stream`` parses it."""

LATER = [
    Operation("GET", "/events", "Server-Sent Events stream of job changes", JOBS_TAG,
              {"200": {"description": "An endless stream of events", "content": {
                  "text/event-stream": {"schema": SSE_EVENT_SCHEMA}}}, "400": {}},
              parameters=(
                  Param("service", "query", "only events of this service",
                        {"type": "string", "format": "uuid"}),
                  Param("job", "query", "only events of this job",
                        {"type": "string", "format": "uuid"}),
                  Param("after", "query", "resume after this event id"),
                  Param("Last-Event-ID", "header", "resume after this event id (sent by "
                        "EventSource when it reconnects)"),
              )),
    Operation("POST", "/services/{service_id}/unavailable", "Mark a service unavailable",
              SERVICES_TAG, {"200": ok("The service in the full view",
                                   envelope(schemas.SERVICE_FULL_SCHEMA)), "404": {}}),
    Operation("GET", "/ui", "The web dashboard: redirects to /ui/", DOCS_TAG,
              {"308": {"description": "Redirect to /ui/, the dashboard's page"}}),
    Operation("GET", "/ui/{path}", "The dashboard's page (path empty) and its static files",
              DOCS_TAG, {"200": {"description": "An HTML page or a static file"}, "404": {}}),
]

OPERATIONS = [*CLASSIC, *OPERATIONS_ENDPOINTS, *LATER]
