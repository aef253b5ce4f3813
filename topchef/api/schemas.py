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

_TIMEOUT = {"type": "integer", "minimum": 1, "description": "seconds between check-ins"}

NEW_SERVICE_SCHEMA = _object(
    {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "job_registration_schema": {"type": "object"},
        "job_result_schema": {"type": "object"},
        "timeout": _TIMEOUT,
    },
    required=["name", "description", "job_registration_schema", "job_result_schema"],
    title="New service",
)

SERVICE_PATCH_SCHEMA = _object(
    {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "is_available": {"type": "boolean"},
        "is_service_available": {"type": "boolean", "description": "same as is_available"},
        "timeout": _TIMEOUT,
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
    },
    title="Job change",
)

VALIDATOR_REQUEST_SCHEMA = _object(
    {"object": {"description": "the instance to validate"}, "schema": {"type": "object"}},
    required=["object", "schema"],
    title="Validation request",
)


def new_job_schema(registration_schema: dict[str, Any]) -> dict[str, Any]:
    """Return the POST body schema for a service's jobs, its registration schema embedded."""
    return _object(
        {"parameters": registration_schema},
        required=["parameters"],
        title="New job",
    )


NEW_SERVICE = CompiledSchema(NEW_SERVICE_SCHEMA)
SERVICE_PATCH = CompiledSchema(SERVICE_PATCH_SCHEMA)
JOB_PATCH = CompiledSchema(JOB_PATCH_SCHEMA)
VALIDATOR_REQUEST = CompiledSchema(VALIDATOR_REQUEST_SCHEMA)
NEW_JOB_ENVELOPE = CompiledSchema(
    _object({"parameters": {}}, required=["parameters"], title="New job")
)
