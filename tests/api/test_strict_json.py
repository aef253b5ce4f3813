"""Duplicate keys and integers outside the 64-bit range, in the parser check and over HTTP."""

from __future__ import annotations

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from topchef.api.strict_json import (
    INT64_MAX,
    INT64_MIN,
    DuplicateKey,
    NumberOutOfRange,
    check_strict_json,
    number_out_of_range,
)

JSON_HEADERS = {"Content-Type": "application/json"}


def check(body: bytes) -> None:
    check_strict_json(body, orjson.loads(body))


def problem_details(error: pytest.ExceptionInfo[Exception]) -> list[str]:
    assert isinstance(error.value, DuplicateKey | NumberOutOfRange)
    return [problem.detail for problem in error.value.problems]


@pytest.mark.parametrize("body", [
    b'{"a": 1, "b": {"c": [1, 2, {"d": null}]}}',
    b'{"time": "20:47:24", "url": "http://127.0.0.1:5000/a:b"}',
    b'{"escaped colon": "\\u003a", "a": 1}',
    b'{"fraction": 0.0021060533511106927123, "exponent": 1e-300}',
    b'{"digits in a string": "12345678901234567890123"}',
    b'{"max": 9223372036854775807, "min": -9223372036854775808}',
    b'{"a": {}, "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}',
])
def test_faithful_body_passes(body: bytes) -> None:
    check(body)


def test_duplicate_top_level_key_named() -> None:
    with pytest.raises(DuplicateKey) as error:
        check(b'{"name": "a", "name": "b"}')

    assert problem_details(error) == [
        "the body has the key 'name' more than once; send each key once, "
        "because JSON objects with repeated keys are ambiguous"
    ]


def test_duplicate_nested_key_located() -> None:
    with pytest.raises(DuplicateKey) as error:
        check(b'{"parameters": {"list": [{"x": 1}, {"x": 2, "x": 3}]}}')

    details = problem_details(error)
    assert len(details) == 1
    assert "the object at /parameters/list/1 has the key 'x'" in details[0]


def test_duplicate_hidden_by_escaped_colon() -> None:
    """An escaped colon in a string must not balance the count of a repeated key."""
    with pytest.raises(DuplicateKey):
        check(b'{"a": 1, "a": 2, "b": "\\u003a"}')


def test_duplicate_written_with_escape() -> None:
    with pytest.raises(DuplicateKey) as error:
        check(b'{"a": 1, "\\u0061": 2}')

    assert "'a'" in problem_details(error)[0]


def test_duplicate_key_with_slash_escaped() -> None:
    with pytest.raises(DuplicateKey) as error:
        check(b'{"a/b": {"k": 1, "k": 1}}')

    assert "/a~1b" in problem_details(error)[0]


@pytest.mark.parametrize("literal", [
    str(2**70), str(-(2**70)), str(INT64_MAX + 1), str(INT64_MIN - 1), str(2**64 - 1),
    "1" * 100, "-" + "9" * 100,
])
def test_integer_out_of_range_rejected(literal: str) -> None:
    body = b'{"parameters": {"values": [1, ' + literal.encode() + b"]}}"

    with pytest.raises(NumberOutOfRange) as error:
        check(body)

    details = problem_details(error)
    assert len(details) == 1
    assert details[0].startswith("number out of range at /parameters/values/1: ")
    assert literal[:40] in details[0]


def test_many_problems_listed_in_order() -> None:
    body = b'{"a": ' + str(2**70).encode() + b', "b": [' + str(2**80).encode() + b"]}"

    with pytest.raises(NumberOutOfRange) as error:
        check(body)

    details = problem_details(error)
    assert len(details) == 2
    assert " at /a: " in details[0]
    assert " at /b/0: " in details[1]


def test_float_beyond_range_kept() -> None:
    """Floats are doubles by definition: 1e30 is a float, not an integer out of range."""
    check(b'{"big": 1e30, "long": 12345678901234567890.5}')


@pytest.mark.parametrize(("literal", "fragment"), [
    ("7" * 5000, "is outside the 64-bit integer range"),
    ("-" + "7" * 400, "is outside the 64-bit integer range"),
    ("1e400", "larger than the largest 64-bit floating-point number"),
    ("-2.5E+999", "larger than the largest 64-bit floating-point number"),
])
def test_number_beyond_double_named(literal: str, fragment: str) -> None:
    body = b'{"a": [{"b": ' + literal.encode() + b"}]}"

    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    error = number_out_of_range(body)

    assert error is not None
    assert len(error.problems) == 1
    assert error.problems[0].detail.startswith("number out of range at /a/0/b: ")
    assert fragment in error.problems[0].detail


@pytest.mark.parametrize("body", [b'{"a": 1e400, "b": NaN}', b'{"a": 1e400', b"[" * 5000])
def test_other_invalid_json_left_to_orjson(body: bytes) -> None:
    assert number_out_of_range(body) is None


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_every_int64_accepted(number: int) -> None:
    check(orjson.dumps({"value": number}))


@given(st.one_of(st.integers(max_value=INT64_MIN - 1), st.integers(min_value=INT64_MAX + 1)))
def test_every_wider_integer_rejected(number: int) -> None:
    with pytest.raises(NumberOutOfRange):
        check(b'{"value": ' + str(number).encode() + b"}")


async def test_duplicate_key_over_http(client: httpx.AsyncClient) -> None:
    body = b'{"schema": {"type": "integer", "type": "string"}, "object": "x"}'

    response = await client.post("/validator", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    entry = response.json()["errors"][0]
    assert entry["title"] == "Duplicate Key"
    assert "/schema has the key 'type'" in entry["detail"]


async def test_huge_integer_over_http(client: httpx.AsyncClient) -> None:
    body = b'{"schema": {}, "object": {"n": ' + str(2**70).encode() + b"}}"

    response = await client.post("/validator", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    entry = response.json()["errors"][0]
    assert entry["title"] == "Number Out of Range"
    assert "at /object/n" in entry["detail"]


async def test_number_beyond_double_over_http(client: httpx.AsyncClient) -> None:
    body = b'{"schema": {}, "object": {"n": 1e400}}'

    response = await client.post("/validator", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    entry = response.json()["errors"][0]
    assert entry["title"] == "Number Out of Range"
    assert "at /object/n" in entry["detail"]


async def test_int64_bounds_round_trip(client: httpx.AsyncClient) -> None:
    body = {"schema": {"type": "array", "items": {"type": "integer"}},
            "object": [INT64_MIN, INT64_MAX]}

    response = await client.post("/validator", json=body)

    assert response.status_code == 200, response.text
