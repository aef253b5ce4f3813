"""The OpenAPI 3.1 document: building blocks, and the document built from the operation table.

Request bodies are described by the same schemas the server checks bodies
against (``topchef.api.schemas``), so the document cannot drift from what is
enforced. Those schemas declare JSON Schema draft 4 in ``$schema``, which
OpenAPI 3.1 allows per schema. The operations themselves are listed in
``topchef.api.openapi_operations``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Match

import topchef

OPENAPI_VERSION = "3.1.0"
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")
SAMPLE_PATH_VALUES = {"path": "index.html"}
"""Values that stand in for path parameters when checking that a route serves a path;
every other parameter is an id."""
SAMPLE_ID = "00000000-0000-4000-8000-000000000000"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "additionalProperties": False,
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["status_code", "title", "detail"],
                "properties": {
                    "status_code": {"type": "integer"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        }
    },
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the errors list every problem found",
    "404": "No such service or job (also a path id that is not a UUID)",
    "409": "The change conflicts with the job's status or lease",
    "413": "The request body is larger than the server accepts",
    "503": "The database cannot be reached; retry after Retry-After seconds",
}


def envelope(data_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the schema of a success envelope whose ``data`` matches ``data_schema``."""
    return {
        "type": "object",
        "required": ["data", "links"],
        "additionalProperties": False,
        "properties": {
            "data": data_schema or {},
            "meta": {},
            "links": {
                "type": "object",
                "required": ["self"],
                "properties": {"self": {"type": "string"}, "next": {"type": "string"}},
            },
        },
    }


def list_of(item_schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item_schema}


def json_content(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def enveloped_example(data: Any) -> dict[str, Any]:
    return {"data": data, "links": {"self": "http://127.0.0.1:5000/..."}}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str
    """``path``, ``query`` or ``header``."""
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})

    def render(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.location == "path",
            "description": self.description,
            "schema": self.schema,
        }


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, as the document describes it."""

    method: str
    path: str
    summary: str
    tag: str
    responses: dict[str, dict[str, Any]]
    """Status code to OpenAPI response object; error codes may map to ``{}`` for the defaults."""
    parameters: tuple[Param, ...] = ()
    request_schema: dict[str, Any] | None = None
    request_example: Any = None
    request_required: bool = True

    @property
    def operation_id(self) -> str:
        words = [part.strip("{}") for part in self.path.split("/") if part]
        return "_".join([self.method.lower(), *words]).replace(".", "_") or self.method.lower()

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": [self.tag],
            "responses": {code: _response(code, spec) for code, spec in self.responses.items()},
        }
        parameters = [*_path_params(self.path), *(param.render() for param in self.parameters)]
        if parameters:
            rendered["parameters"] = parameters
        if self.request_schema is not None:
            rendered["requestBody"] = {
                "required": self.request_required,
                "content": json_content(self.request_schema, self.request_example),
            }
        return rendered


def _response(code: str, spec: dict[str, Any]) -> dict[str, Any]:
    if spec or code not in ERROR_DESCRIPTIONS:
        return spec
    return {"description": ERROR_DESCRIPTIONS[code], "content": json_content(ERROR_SCHEMA)}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part.strip("{}") for part in path.split("/") if part.startswith("{")]
    return [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string"} if name == "path" else {"type": "string", "format": "uuid"}}
        for name in names
    ]


def build_document(operations: Iterable[Operation]) -> dict[str, Any]:
    """Return the OpenAPI document for ``operations``, their paths in the order given."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.render()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "TopChef",
            "version": topchef.__version__,
            "description": "A job broker over HTTP: submit jobs here, run them there, with "
            "JSON Schema contracts. Success bodies are {data, meta, links}; errors are "
            "{errors: [{status_code, title, detail}]}.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearerToken": {
                "type": "http", "scheme": "bearer",
                "description": "Needed only where the server has access tokens configured: "
                               "a missing or unknown token gets 401, a token whose role does "
                               "not allow the request gets 403 (see docs/security.md).",
            }},
        },
        # The empty requirement means a server without tokens takes requests without one.
        "security": [{}, {"bearerToken": []}],
    }



def is_served(operation: Operation, routes: Sequence[BaseRoute]) -> bool:
    """Return whether one of ``routes`` serves the operation's method and path."""
    path = _PATH_PARAMETER.sub(
        lambda match: SAMPLE_PATH_VALUES.get(match.group(1), SAMPLE_ID), operation.path
    )
    scope = {"type": "http", "path": path, "root_path": "", "method": operation.method}
    return any(route.matches(scope)[0] == Match.FULL for route in routes)
