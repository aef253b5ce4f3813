"""JSON Schemas that describe response data and request bodies, published in ``meta``.

The request-body schemas are also what the server checks bodies against, so
the published contract and the enforced one cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from topchef.broker.schemas import DRAFT4_URI, CompiledSchema

_UUID = {"type": "string", "format": "uuid"}
_TIMESTAMP = {"type": "string", "format": "date-time"}
_STATUS = {"type": "string", "enum": ["REGISTERED", "WORKING", "COMPLETED", "ERROR"]}


def _object(properties: dict[str, Any], *, required: list[str] | None = None,
            title: str, closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$schema": DRAFT4_URI,
        "title": title,
        "type": "object",
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


API_METADATA_SCHEMA = _object(
    {
        "maintainer_name": {"type": "string"},
        "maintainer_email": {"type": "string"},
        "documentation_url": {"type": "string"},
        "source_code_repository_url": {"type": "string"},
        "version": {"type": "string"},
    },
    title="API metadata",
)

JOB_OVERVIEW_SCHEMA = _object(
    {"id": _UUID, "status": _STATUS, "date_submitted": _TIMESTAMP},
    required=["id", "status", "date_submitted"],
    title="Job overview",
)

JOB_SCHEMA = _object(
    {
        "id": _UUID,
        "status": _STATUS,
        "parameters": {},
        "results": {},
        "date_submitted": _TIMESTAMP,
    },
    required=["id", "status", "parameters", "results", "date_submitted"],
    title="Job",
)

_OPTIONAL_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}

JOB_FULL_SCHEMA = _object(
    {
        **JOB_SCHEMA["properties"],
        "service_id": _UUID,
        "priority": {"type": "integer"},
        "attempt": {"type": "integer", "minimum": 0,
                    "description": "how many times the job was claimed"},
        "worker": {"type": ["string", "null"]},
        "lease": {
            "type": ["object", "null"],
            "properties": {
                "token": {"type": "string", "description": "only in claim and heartbeat "
                          "responses"},
                "expires_at": _TIMESTAMP,
                "worker": {"type": ["string", "null"]},
                "attempt": {"type": "integer"},
            },
        },
        "date_started": _OPTIONAL_TIMESTAMP,
        "date_finished": _OPTIONAL_TIMESTAMP,
        "visible_at": {**_OPTIONAL_TIMESTAMP,
                       "description": "a job waiting out a retry delay is not claimed before"},
        "cancel_requested": {"type": "boolean"},
        "error": {"type": ["string", "null"]},
    },
    required=[*JOB_SCHEMA["required"], "service_id", "priority", "attempt"],
    title="Job, full view",
)

SERVICE_OVERVIEW_SCHEMA = _object(
    {"id": _UUID, "name": {"type": "string"}, "description": {"type": "string"}},
    required=["id", "name", "description"],
    title="Service overview",
)

SERVICE_SCHEMA = _object(
    {
        "id": _UUID,
        "name": {"type": "string"},
        "description": {"type": "string"},
        "job_registration_schema": {"type": "object"},
        "job_result_schema": {"type": "object"},
        "is_service_available": {"type": "boolean"},
        "has_timed_out": {"type": "boolean"},
        "timeout": {"type": "integer", "minimum": 1},
        "jobs": {"type": "array", "items": JOB_OVERVIEW_SCHEMA},
    },
    required=[
        "id", "name", "description", "job_registration_schema", "job_result_schema",
        "is_service_available", "has_timed_out", "timeout", "jobs",
    ],
    title="Service",
)

INT32_MAX = 2**31 - 1
"""Largest value of the integer columns, the same on SQLite and PostgreSQL."""
MAX_DELAY_SECONDS = 7 * 86_400
MAX_ATTEMPTS = 1000
_TIMEOUT = {"type": "integer", "minimum": 1, "maximum": INT32_MAX,
            "description": "seconds between check-ins"}
MAX_LEASE_SECONDS = 86_400
MAX_WAIT_SECONDS = 300
MAX_CLAIM_LIMIT = 100
MAX_BATCH_JOBS = 1000
_SETTINGS = {
    "timeout": _TIMEOUT,
    "lease_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_LEASE_SECONDS,
                      "description": "how long a claim holds a job without a heartbeat"},
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS,
                     "description": "claims a job gets before a failure is final"},
    "retry_delay_seconds": {"type": "number", "minimum": 0, "maximum": MAX_DELAY_SECONDS,
                            "description": "backoff before the first retry; doubles each time"},
    "retry_delay_max_seconds": {"type": "number", "minimum": 0, "maximum": MAX_DELAY_SECONDS},
    "retention_seconds": {"type": ["integer", "null"], "minimum": 1, "maximum": INT32_MAX,
                          "description": "finished jobs older than this are purged; "
                          "null keeps them"},
    "callback_url": {"type": ["string", "null"], "minLength": 1, "maxLength": 2000,
                     "description": "receives a signed POST when a job of this service "
                     "finishes; its host must be on the server's webhook allowlist; "
                     "null turns webhooks off"},
}
_PRIORITY = {"type": "integer", "minimum": -INT32_MAX - 1, "maximum": INT32_MAX,
             "description": "higher first; default 0"}
_LEASE_TOKEN = {"type": "string", "minLength": 1, "maxLength": 200,
                "description": "the token of the lease the job was claimed under"}

NEW_SERVICE_SCHEMA = _object(
    {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "job_registration_schema": {"type": "object"},
        "job_result_schema": {"type": "object"},
        **_SETTINGS,
    },
    required=["name", "description", "job_registration_schema", "job_result_schema"],
    title="New service",
)

SERVICE_FULL_SCHEMA = _object(
    {
        **SERVICE_SCHEMA["properties"],
        **_SETTINGS,
        "last_checked_in": _TIMESTAMP,
        "timed_out_at": {**_OPTIONAL_TIMESTAMP,
                         "description": "when the service was marked timed out; null after "
                         "a check-in"},
        "date_created": _TIMESTAMP,
        "job_counts": {"type": "object", "additionalProperties": {"type": "integer"},
                       "description": "jobs of this service by status"},
    },
    required=SERVICE_SCHEMA["required"],
    title="Service, full view",
)

SERVICE_PATCH_SCHEMA = _object(
    {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "is_available": {"type": "boolean"},
        "is_service_available": {"type": "boolean", "description": "same as is_available"},
        **_SETTINGS,
    },
    title="Service check-in with optional changes",
)

JOB_PATCH_SCHEMA = _object(
    {
        "status": {
            "type": ["string", "null"],
            "description": "REGISTERED, WORKING, COMPLETED or ERROR in any letter case; "
            "null leaves it as is",
        },
        "results": {"description": "must match the service's job_result_schema; "
                    "null leaves it as is"},
        "id": {"description": "read-only; accepted only unchanged"},
        "date_submitted": {"description": "read-only; accepted only unchanged"},
        "parameters": {"description": "read-only; accepted only unchanged"},
        "lease": {**_LEASE_TOKEN, "description": "fences the change: refused with 409 "
                  "unless the job is still held under this lease"},
    },
    title="Job change",
)

CLAIM_REQUEST_SCHEMA = _object(
    {
        "worker": {"type": "string", "maxLength": 200, "description": "a name for logs"},
        "lease_seconds": _SETTINGS["lease_seconds"],
        "wait_seconds": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS,
                         "description": "hold the request open until a job arrives"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_CLAIM_LIMIT,
                  "description": "claim up to this many jobs; data is then a list"},
    },
    title="Claim request",
)

HEARTBEAT_REQUEST_SCHEMA = _object(
    {"lease": _LEASE_TOKEN, "lease_seconds": _SETTINGS["lease_seconds"]},
    required=["lease"],
    title="Heartbeat",
)

FAILURE_REPORT_SCHEMA = _object(
    {
        "lease": _LEASE_TOKEN,
        "error": {"type": "string", "minLength": 1, "maxLength": 10_000,
                  "description": "what went wrong, such as a traceback summary"},
        "retry": {"type": "boolean", "description": "requeue after a backoff if attempts "
                  "remain; default false"},
    },
    required=["error"],
    title="Failure report",
)

BATCH_REQUEST_SCHEMA = _object(
    {
        "jobs": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH_JOBS,
            "items": _object({"parameters": {}, "priority": _PRIORITY},
                             required=["parameters"], title="New job"),
        }
    },
    required=["jobs"],
    title="Batch of new jobs",
)

VALIDATOR_REQUEST_SCHEMA = _object(
    {"object": {"description": "the instance to validate"}, "schema": {"type": "object"}},
    required=["object", "schema"],
    title="Validation request",
)


def new_job_schema(registration_schema: dict[str, Any]) -> dict[str, Any]:
    """Return the POST body schema for a service's jobs, its registration schema embedded."""
    return _object(
        {"parameters": registration_schema, "priority": _PRIORITY},
        required=["parameters"],
        title="New job",
    )


NEW_SERVICE = CompiledSchema(NEW_SERVICE_SCHEMA)
SERVICE_PATCH = CompiledSchema(SERVICE_PATCH_SCHEMA)
JOB_PATCH = CompiledSchema(JOB_PATCH_SCHEMA)
VALIDATOR_REQUEST = CompiledSchema(VALIDATOR_REQUEST_SCHEMA)
NEW_JOB_ENVELOPE = CompiledSchema(new_job_schema({}))
CLAIM_REQUEST = CompiledSchema(CLAIM_REQUEST_SCHEMA)
HEARTBEAT_REQUEST = CompiledSchema(HEARTBEAT_REQUEST_SCHEMA)
FAILURE_REPORT = CompiledSchema(FAILURE_REPORT_SCHEMA)
BATCH_REQUEST = CompiledSchema(BATCH_REQUEST_SCHEMA)
