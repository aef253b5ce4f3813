"""Checks for JSON that orjson reads without complaint but would change on the way in.

orjson keeps the last of two equal keys in an object, and reads an integer
outside the 64-bit range as a float, so ``2**70 + 1`` would be stored as
``1.1805916207174113e+21``. Both would store something other than what the
client sent, so both are rejected.

The common body has neither, and two cheap tests on the raw bytes prove it.
First, the body has as many colons as orjson's own encoding of the decoded
value. Each object member has one colon outside strings, and colons inside
strings appear in both, because orjson never escapes a colon. Only a body
that escapes one as ``\\u003a`` needs the slower count of decoded keys.
Second, no integer in the body has 19 digits or more, as every integer
outside the range does. A body that fails either test is parsed again,
slowly, by the standard library to find and name the offending key or number.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from topchef.broker.errors import InvalidInput, Problem

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Integers are kept exactly within the signed 64-bit range, the range of a Java long."""

MAX_REPORTED = 10
"""How many duplicate keys and out-of-range numbers one error response lists."""

MAX_ECHO_CHARS = 40

_ALL_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER = b"0" * len(str(INT64_MAX))
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")


class DuplicateKey(InvalidInput):
    default_title = "Duplicate Key"


class NumberOutOfRange(InvalidInput):
    default_title = "Number Out of Range"


class _UniqueKeys(dict[str, Any]):
    """A decoded object; ``duplicates`` lists the keys that appeared more than once."""

    duplicates: list[str]


class _IntegerOutOfRange(str):
    """The text of an integer literal outside the 64-bit range, kept instead of its value."""


class _FloatOutOfRange(str):
    """The text of a number literal beyond the largest double, kept instead of infinity."""


def check_strict_json(body: bytes, value: Any) -> None:
    """Raise DuplicateKey or NumberOutOfRange if orjson's ``value`` differs from ``body``.

    ``value`` is what orjson decoded from ``body``. Each error lists up to
    MAX_REPORTED problems, each located by a JSON Pointer.
    """
    if _same_key_count(body, value) and not _has_long_integer(body):
        return

    exact = json.loads(body, object_pairs_hook=_unique_keys, parse_int=_parse_int)
    duplicates: list[Problem] = []
    out_of_range: list[Problem] = []
    _collect(exact, "", duplicates, out_of_range)
    if duplicates:
        raise DuplicateKey(*duplicates[:MAX_REPORTED])
    if out_of_range:
        raise NumberOutOfRange(*out_of_range[:MAX_REPORTED])


def number_out_of_range(body: bytes) -> NumberOutOfRange | None:
    """Return the error for the numbers in ``body`` that are too large for a double, if any.

    orjson rejects such a number as "infinity" and stops. This parses the body
    again to report that number, and every integer outside the 64-bit range,
    the way check_strict_json does. It returns None if the body is invalid JSON
    for another reason, so the caller reports orjson's own error.
    """
    try:
        exact = json.loads(body, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None

    out_of_range: list[Problem] = []
    _collect(exact, "", [], out_of_range)
    return NumberOutOfRange(*out_of_range[:MAX_REPORTED]) if out_of_range else None


def _parse_float(text: str) -> float | _FloatOutOfRange:
    number = float(text)
    return _FloatOutOfRange(text) if math.isinf(number) else number


def _reject_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _same_key_count(body: bytes, value: Any) -> bool:
    if any(escaped in body for escaped in _ESCAPED_COLONS):
        return body.count(b":") == _count_keys(value)
    return body.count(b":") == orjson.dumps(value).count(b":")


def _has_long_integer(body: bytes) -> bool:
    """Return whether ``body`` has a run of 19 digits outside a number's fraction.

    Digits in strings and exponents count too, which only costs a slow check.
    """
    digits = body.translate(_ALL_DIGITS_TO_ZERO)
    start = digits.find(_LONG_INTEGER)
    while start != -1:
        if start == 0 or digits[start - 1] != ord("."):
            return True
        end = start + len(_LONG_INTEGER)
        while end < len(digits) and digits[end] == ord("0"):
            end += 1
        start = digits.find(_LONG_INTEGER, end)
    return False


def _count_keys(value: Any) -> int:
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


def _unique_keys(pairs: list[tuple[str, Any]]) -> _UniqueKeys:
    decoded = _UniqueKeys(pairs)
    decoded.duplicates = []
    if len(decoded) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen and key not in decoded.duplicates:
                decoded.duplicates.append(key)
            seen.add(key)
    return decoded


def _parse_int(text: str) -> int | _IntegerOutOfRange:
    # Length first: int() refuses literals of more than 4,300 digits by default.
    digits = len(text.lstrip("-"))
    if digits <= len(str(INT64_MAX)) - 1:
        return int(text)
    if digits == len(str(INT64_MAX)) and INT64_MIN <= int(text) <= INT64_MAX:
        return int(text)
    return _IntegerOutOfRange(text)


def _collect(value: Any, pointer: str, duplicates: list[Problem],
             out_of_range: list[Problem]) -> None:
    """Walk ``value`` in document order, appending one problem per duplicate and number."""
    pending: list[tuple[str, Any]] = [(pointer, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, _IntegerOutOfRange):
            out_of_range.append(Problem(NumberOutOfRange.default_title, _range_detail(where, item)))
        elif isinstance(item, _FloatOutOfRange):
            out_of_range.append(Problem(NumberOutOfRange.default_title, _float_detail(where, item)))
        elif isinstance(item, dict):
            duplicates.extend(
                Problem(DuplicateKey.default_title, _duplicate_detail(where, key))
                for key in getattr(item, "duplicates", ())
            )
            pending.extend((f"{where}/{_escape(key)}", child)
                           for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{where}/{index}", child)
                           for index, child in reversed(list(enumerate(item))))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _echo(text: str) -> str:
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "..."


def _duplicate_detail(pointer: str, key: str) -> str:
    where = f"the object at {pointer}" if pointer else "the body"
    return (f"{where} has the key {_echo(key)!r} more than once; "
            "send each key once, because JSON objects with repeated keys are ambiguous")


def _float_detail(pointer: str, literal: str) -> str:
    return (f"number out of range at {pointer}: {_echo(literal)} is larger than the largest "
            "64-bit floating-point number, about 1.8e308; send it as a string")


def _range_detail(pointer: str, literal: str) -> str:
    return (f"number out of range at {pointer}: {_echo(literal)} is outside the 64-bit "
            f"integer range {INT64_MIN} to {INT64_MAX}, so it cannot be stored exactly; "
            "send it as a string")
