"""Hostile requests against a real server: each gets its 4xx error envelope and changes nothing.

These extend the cases of test_bad_input with what a careless or malicious
client sends. They cover broken JSON and encodings, duplicate keys, numbers
no store can keep exactly, schemas built to hurt and text the stores treat
differently. They also cover wrong methods, oversize bodies, bad ids, method
overrides, content types and query parameters. Each case reads the whole
state before and after and requires it unchanged.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.e2e.classic import OVERRIDE_HEADER
from tests.e2e.test_bad_input import (
    JSON,
    VALID_SERVICE,
    case,
    check_rejected,
    ids,
    service_with,
)

pytestmark = pytest.mark.e2e

__all__ = ["ids"]  # the fixture, shared with test_bad_input

BODY_LIMIT = 16 * 1024 * 1024
"""The default of topchef serve --max-body-bytes, which the e2e server runs with."""

HUGE = str(2**70)
NEGATIVE_HUGE = str(-(2**70))
HUNDRED_DIGITS = "1" * 100


def cursor_after(text: str) -> str:
    """Return a cursor in the server's encoding whose position is ``text``."""
    return base64.urlsafe_b64encode(f"after:{text}".encode()).decode().rstrip("=")


def raw(text: str) -> dict[str, Any]:
    """Request arguments that send ``text`` as a JSON body, byte for byte."""
    return {"content": text.encode(), "headers": JSON}


def schema_case(case_id: str, schema: dict[str, Any], fragment: str) -> Any:
    return case(case_id, "POST", "/services",
                {"json": service_with(job_registration_schema=schema)},
                400, "Invalid Schema", fragment)


SERVICE_BODY = '"description": "", "job_registration_schema": {}, "job_result_schema": {}'

CASES = [
    # Malformed JSON and encodings.
    case("trailing-comma", "POST", "/services", raw('{"name": "x",}'), 400, "Request Not JSON"),
    case("single-quotes", "POST", "/services", raw("{'name': 'x'}"), 400, "Request Not JSON"),
    case("comment", "POST", "/services", raw('{"name": "x" /* note */}'),
         400, "Request Not JSON"),
    case("two-objects", "POST", "/services", raw("{} {}"), 400, "Request Not JSON"),
    case("byte-order-mark", "POST", "/services",
         {"content": b"\xef\xbb\xbf" + b"{}", "headers": JSON}, 400, "Request Not JSON"),
    case("utf16-body", "POST", "/validator",
         {"content": '{"schema": {}, "object": 1}'.encode("utf-16"), "headers": JSON},
         400, "Request Not JSON"),
    case("invalid-utf8-in-string", "POST", "/services/{service}/jobs",
         {"content": b'{"parameters": {"value": "\xc3\x28"}}', "headers": JSON},
         400, "Request Not JSON"),
    case("overlong-utf8", "POST", "/services/{service}/jobs",
         {"content": b'{"parameters": {"value": "\xc0\xaf"}}', "headers": JSON},
         400, "Request Not JSON"),
    case("raw-control-character", "POST", "/services",
         {"content": b'{"name": "a\x01b"}', "headers": JSON}, 400, "Request Not JSON"),
    case("lone-high-surrogate", "POST", "/services",
         raw('{"name": "\\ud800", ' + SERVICE_BODY + "}"), 400, "Request Not JSON",
         "surrogate"),
    case("lone-low-surrogate", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": 1, "note": "\\udc00"}}'), 400, "Request Not JSON",
         "surrogate"),
    case("reversed-surrogates", "PATCH", "/jobs/{working}",
         raw('{"results": {"result": 1, "note": "\\ude00\\ud83d"}}'), 400, "Request Not JSON",
         "surrogate"),
    case("infinity-parameter", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": Infinity}}'), 400, "Request Not JSON"),
    case("negative-infinity-result", "PATCH", "/jobs/{working}",
         raw('{"results": {"result": -Infinity}}'), 400, "Request Not JSON"),

    # Duplicate keys, which orjson alone would resolve by keeping the last.
    case("duplicate-service-name", "POST", "/services",
         raw('{"name": "a", "name": "b", ' + SERVICE_BODY + "}"), 400, "Duplicate Key",
         "the body has the key 'name'"),
    case("duplicate-parameter", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": 1, "value": 2}}'), 400, "Duplicate Key",
         "/parameters has the key 'value'"),
    case("duplicate-escaped-parameter", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": 1, "\\u0076alue": 2}}'), 400, "Duplicate Key",
         "'value'"),
    case("duplicate-status", "PATCH", "/jobs/{registered}",
         raw('{"status": "WORKING", "status": "COMPLETED"}'), 400, "Duplicate Key", "'status'"),
    case("duplicate-result", "PATCH", "/jobs/{working}",
         raw('{"status": "COMPLETED", "results": {"result": 1, "result": 2}}'),
         400, "Duplicate Key", "/results has the key 'result'"),
    case("duplicate-schema-keyword", "POST", "/validator",
         raw('{"schema": {"type": "integer", "type": "string"}, "object": 1}'),
         400, "Duplicate Key", "/schema has the key 'type'"),
    case("duplicate-in-array", "POST", "/services/{service}/jobs/batch",
         raw('{"jobs": [{"parameters": {"value": 1}}, '
             '{"parameters": {"value": 1}, "parameters": {"value": 2}}]}'),
         400, "Duplicate Key", "/jobs/1 has the key 'parameters'"),
    case("duplicate-service-patch", "PATCH", "/services/{service}",
         raw('{"timeout": 5, "timeout": 6}'), 400, "Duplicate Key", "'timeout'"),

    # Numbers that no store keeps exactly.
    case("parameter-2-to-70", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": ' + HUGE + "}}"), 400, "Number Out of Range",
         "at /parameters/value"),
    case("parameter-minus-2-to-70", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": ' + NEGATIVE_HUGE + "}}"), 400, "Number Out of Range",
         NEGATIVE_HUGE),
    case("parameter-100-digits", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": ' + HUNDRED_DIGITS + "}}"), 400, "Number Out of Range",
         "at /parameters/value"),
    case("parameter-2-to-63", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": ' + str(2**63) + "}}"), 400, "Number Out of Range",
         "9223372036854775807"),
    case("parameter-beyond-double", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": 1, "scale": 1e400}}'), 400, "Number Out of Range",
         "at /parameters/scale"),
    case("result-2-to-70", "PATCH", "/jobs/{working}",
         raw('{"status": "COMPLETED", "results": {"result": ' + HUGE + "}}"),
         400, "Number Out of Range", "at /results/result"),
    case("priority-2-to-70", "POST", "/services/{service}/jobs",
         raw('{"parameters": {"value": 1}, "priority": ' + HUGE + "}"),
         400, "Number Out of Range", "at /priority"),
    case("priority-beyond-int32", "POST", "/services/{service}/jobs",
         {"json": {"parameters": {"value": 1}, "priority": 2**40}}, 400, "Invalid Request",
         "/priority"),
    case("timeout-2-to-70", "POST", "/services", raw(
        '{"name": "x", "timeout": ' + HUGE + ", " + SERVICE_BODY + "}"),
         400, "Number Out of Range", "at /timeout"),
    case("timeout-beyond-int32", "PATCH", "/services/{service}", {"json": {"timeout": 2**40}},
         400, "Invalid Request", "/timeout"),
    case("lease-seconds-huge", "POST", "/services/{service}/jobs/next",
         {"json": {"lease_seconds": 2**62}}, 400, "Invalid Request", "/lease_seconds"),
    case("claim-limit-huge", "POST", "/services/{service}/jobs/next",
         {"json": {"limit": 2**62}}, 400, "Invalid Request", "/limit"),
    case("schema-maximum-2-to-70", "POST", "/validator",
         raw('{"schema": {"maximum": ' + HUGE + '}, "object": 1}'), 400, "Number Out of Range",
         "at /schema/maximum"),

    # Schemas built to hurt.
    schema_case("schema-lookahead", {"properties": {"value": {"pattern": "^(?=a)a+$"}}},
                "/properties/value/pattern"),
    schema_case("schema-backreference", {"properties": {"value": {"pattern": "(a)\\1"}}},
                "/properties/value/pattern"),
    schema_case("schema-invalid-regex", {"properties": {"value": {"pattern": "(unclosed"}}},
                "/properties/value/pattern"),
    schema_case("schema-invalid-pattern-property", {"patternProperties": {"[a-": {}}},
                "/patternProperties/[a-"),
    schema_case("schema-http-ref", {"$ref": "http://127.0.0.1:9/schema.json"},
                "TopChef never fetches schemas"),
    schema_case("schema-https-ref", {"properties": {"value": {
        "$ref": "https://127.0.0.1:9/schema.json#/definitions/value"}}},
                "TopChef never fetches schemas"),
    schema_case("schema-file-ref", {"$ref": "file:///etc/hostname"},
                "TopChef never fetches schemas"),
    schema_case("schema-relative-ref", {"$ref": "definitions.json#/value"},
                "TopChef never fetches schemas"),
    schema_case("schema-missing-defs", {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                        "$ref": "#/$defs/value", "$defs": {}},
                "/$defs/value"),
    schema_case("schema-unknown-draft", {"$schema": "https://json-schema.org/draft/2030-01/schema"},
                "unsupported $schema"),
    case("validator-lookbehind", "POST", "/validator",
         {"json": {"schema": {"pattern": "(?<=a)b"}, "object": "ab"}}, 400, "Invalid Schema",
         "/pattern"),

    # Text that PostgreSQL cannot store, rejected by both stores alike.
    case("service-name-nul", "POST", "/services", {"json": service_with(name="a\u0000b")},
         400, "Invalid Request", "/name contains the character U+0000"),
    case("service-description-nul", "POST", "/services",
         {"json": service_with(description="\u0000")}, 400, "Invalid Request", "/description"),
    case("service-patch-name-nul", "PATCH", "/services/{service}", {"json": {"name": "\u0000"}},
         400, "Invalid Request", "/name"),
    case("claim-worker-nul", "POST", "/services/{service}/jobs/next",
         {"json": {"worker": "w\u0000"}}, 400, "Invalid Request", "/worker"),
    case("heartbeat-lease-nul", "POST", "/jobs/{working}/heartbeat",
         {"json": {"lease": "\u0000"}}, 400, "Invalid Request", "/lease"),
    case("status-nul", "PATCH", "/jobs/{registered}", {"json": {"status": "WORKING\u0000"}},
         400, "Invalid Request", "/status"),

    # Wrong methods.
    case("put-services", "PUT", "/services", {"json": VALID_SERVICE}, 405,
         "Method Not Allowed", "PUT is not allowed on /services"),
    case("delete-validator", "DELETE", "/validator", {}, 405, "Method Not Allowed"),
    case("post-jobs", "POST", "/jobs", {"json": {"parameters": {"value": 1}}}, 405,
         "Method Not Allowed"),
    case("patch-root", "PATCH", "/", {"json": {}}, 405, "Method Not Allowed"),
    case("get-heartbeat", "GET", "/jobs/{working}/heartbeat", {}, 405, "Method Not Allowed"),
    case("put-queue", "PUT", "/services/{service}/queue", {"json": {}}, 405,
         "Method Not Allowed"),
    case("override-to-patch-on-create", "POST", "/services",
         {"json": VALID_SERVICE, "headers": {OVERRIDE_HEADER: "PATCH"}}, 405,
         "Method Not Allowed", "PATCH is not allowed on /services"),

    # Oversize bodies.
    case("oversize-service", "POST", "/services",
         {"content": b'{"name": "' + b"x" * BODY_LIMIT + b'"}', "headers": JSON},
         413, "Payload Too Large"),
    case("oversize-job", "POST", "/services/{service}/jobs",
         {"content": b'{"parameters": {"value": 1, "pad": "' + b"x" * BODY_LIMIT + b'"}}',
          "headers": JSON}, 413, "Payload Too Large"),

    # Bad ids.
    case("job-id-nul", "GET", "/jobs/%00", {}, 404, "Not Found"),
    case("job-id-very-long", "GET", "/jobs/" + "f" * 10_000, {}, 404, "Not Found"),
    case("job-id-unicode-digits", "GET", "/jobs/" + "\u0661" * 32, {}, 404, "Not Found"),
    case("service-id-is-job-id", "GET", "/services/{registered}", {}, 404, "Service Not Found"),
    case("job-id-is-service-id", "PATCH", "/jobs/{service}", {"json": {"status": "WORKING"}},
         404, "Job Not Found"),
    case("service-id-encoded-slash", "GET", "/services/..%2Fjobs", {}, 404, "Not Found"),

    # Bad method overrides.
    case("override-empty", "POST", "/jobs/{registered}",
         {"json": {"status": "WORKING"}, "headers": {OVERRIDE_HEADER: ""}},
         400, "Invalid Method Override"),
    case("override-list", "POST", "/jobs/{registered}",
         {"json": {"status": "WORKING"}, "headers": {OVERRIDE_HEADER: "PATCH, DELETE"}},
         400, "Invalid Method Override", "PATCH, DELETE"),
    case("override-trace", "POST", "/jobs/{registered}",
         {"json": {}, "headers": {OVERRIDE_HEADER: "TRACE"}}, 400, "Invalid Method Override"),

    # Bad Content-Type.
    case("content-type-jsonx", "POST", "/services",
         {"json": VALID_SERVICE, "headers": {"Content-Type": "application/jsonx"}},
         400, "Request Not JSON", "application/jsonx"),
    case("content-type-text-json", "POST", "/services/{service}/jobs",
         {"json": {"parameters": {"value": 1}}, "headers": {"Content-Type": "text/json"}},
         400, "Request Not JSON", "text/json"),
    case("content-type-multipart", "PATCH", "/jobs/{registered}",
         {"json": {"status": "WORKING"}, "headers": {"Content-Type": "multipart/form-data"}},
         400, "Request Not JSON", "multipart/form-data"),
    case("content-type-empty", "POST", "/validator",
         {"json": {"schema": {}, "object": 1}, "headers": {"Content-Type": ""}},
         400, "Request Not JSON"),

    # Bad query parameters.
    case("limit-zero", "GET", "/jobs?limit=0", {}, 400, "Invalid Query Parameter", "limit"),
    case("limit-negative", "GET", "/services/{service}/jobs?limit=-1", {},
         400, "Invalid Query Parameter", "limit"),
    case("limit-word", "GET", "/jobs?limit=ten", {}, 400, "Invalid Query Parameter", "ten"),
    case("limit-fraction", "GET", "/jobs?limit=1.5", {}, 400, "Invalid Query Parameter",
         "whole number"),
    case("limit-too-large", "GET", "/jobs?limit=1001", {}, 400, "Invalid Query Parameter",
         "out of range"),
    case("limit-nan", "GET", "/jobs?limit=nan", {}, 400, "Invalid Query Parameter"),
    case("limit-infinite", "GET", "/jobs?limit=inf", {}, 400, "Invalid Query Parameter"),
    case("limit-huge", "GET", "/jobs?limit=" + HUNDRED_DIGITS, {}, 400,
         "Invalid Query Parameter"),
    case("cursor-garbage", "GET", "/jobs?cursor=%%%", {}, 400, "Invalid Query Parameter",
         "cursor"),
    case("cursor-huge", "GET", "/jobs?cursor=" + cursor_after(HUGE), {}, 400,
         "Invalid Query Parameter", "cursor"),
    case("cursor-negative", "GET", "/services/{service}/jobs?cursor=" + cursor_after("-1"), {},
         400, "Invalid Query Parameter", "cursor"),
    case("cursor-nul", "GET", "/jobs?cursor=%00", {}, 400, "Invalid Query Parameter"),
    case("cursor-non-ascii", "GET", "/services/{service}/jobs?cursor=%C8%BE", {}, 400,
         "Invalid Query Parameter", "cursor"),
    case("wait-negative", "GET", "/jobs/{registered}?wait_seconds=-1", {}, 400,
         "Invalid Query Parameter", "wait_seconds"),
    case("wait-word", "GET", "/jobs/{registered}?wait_seconds=soon", {}, 400,
         "Invalid Query Parameter", "soon"),
    case("wait-nan", "GET", "/jobs/{registered}?wait_seconds=NaN", {}, 400,
         "Invalid Query Parameter"),
    case("wait-too-long", "GET", "/jobs/{registered}?wait_seconds=1e9", {}, 400,
         "Invalid Query Parameter", "out of range"),
    case("view-unknown", "GET", "/jobs/{registered}?view=fullest", {}, 400,
         "Invalid Query Parameter", "fullest"),
    case("view-nul", "GET", "/services/{service}?view=%00", {}, 400,
         "Invalid Query Parameter"),
    case("status-filter-unknown", "GET", "/jobs?status=DONE", {}, 400, "Invalid Status",
         "DONE"),
    case("status-filter-nul", "GET", "/jobs?status=%00", {}, 400, "Invalid Status"),
]


@pytest.mark.parametrize(("method", "path", "request_args", "status", "title", "fragment"), CASES)
def test_hostile_request(
    http: httpx.Client,
    ids: dict[str, str],
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    title: str,
    fragment: str | None,
) -> None:
    check_rejected(http, ids, method, path, request_args, status, title, fragment)

