"""JSON Schema checking and validation with compiled jsonschema-rs validators.

A schema's draft comes from its ``$schema`` keyword. A missing ``$schema`` and
the generic ``http://json-schema.org/schema#`` both mean Draft 4, because the
original TopChef read every schema as Draft 4 and existing services rely on it.
Formats are annotations only, as they were in the original: a ``format`` such
as ``date-time`` is not asserted.

A new schema's ``pattern`` and ``patternProperties`` regular expressions run on
the linear-time engine of the Rust ``regex`` crate, so no string can make one
backtrack: a match takes time proportional to the string's length times the
pattern's size. That engine has no lookaround and no backreferences, so a new
schema that uses them is rejected. A schema already stored (from before this
rule) is compiled with the backtracking ``fancy-regex`` engine instead, capped
at BACKTRACK_LIMIT steps per match; a match that reaches the cap fails as a
violation.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from topchef.broker.errors import InvalidInput, Problem, SchemaViolation
from topchef.broker.models import JSON

DRAFT4_URI = "http://json-schema.org/draft-04/schema#"

_DRAFTS: dict[str, tuple[str, Any]] = {
    "http://json-schema.org/draft-04/schema": (DRAFT4_URI, jsonschema_rs.Draft4Validator),
    "http://json-schema.org/draft-06/schema": (
        "http://json-schema.org/draft-06/schema#",
        jsonschema_rs.Draft6Validator,
    ),
    "http://json-schema.org/draft-07/schema": (
        "http://json-schema.org/draft-07/schema#",
        jsonschema_rs.Draft7Validator,
    ),
    "https://json-schema.org/draft/2019-09/schema": (
        "https://json-schema.org/draft/2019-09/schema",
        jsonschema_rs.Draft201909Validator,
    ),
    "https://json-schema.org/draft/2020-12/schema": (
        "https://json-schema.org/draft/2020-12/schema",
        jsonschema_rs.Draft202012Validator,
    ),
}
_DRAFT4_ALIASES = {"", "http://json-schema.org/schema"}

VALIDATOR_CACHE_SIZE = 1024

BACKTRACK_LIMIT = 10_000
"""Backtracking steps one match of a stored schema's pattern may take, about 0.1 ms."""


def _draft_key(schema_uri: str) -> str:
    # "http://json-schema.org/draft-04/schema#" and the same without "#" name one draft.
    key = schema_uri.strip().rstrip("#")
    if key.startswith("https://json-schema.org/draft-0"):
        key = "http" + key[len("https") :]
    return key


def _select_draft(schema: dict[str, JSON], field: str) -> tuple[str, Any]:
    uri = schema.get("$schema", "")
    if not isinstance(uri, str):
        raise InvalidInput(
            Problem("Invalid Schema", f"{field}: $schema must be a string, got {_brief(uri)}")
        )

    key = _draft_key(uri)
    if key in _DRAFT4_ALIASES:
        return _DRAFTS["http://json-schema.org/draft-04/schema"]
    if key in _DRAFTS:
        return _DRAFTS[key]

    supported = ", ".join(sorted(_DRAFTS))
    raise InvalidInput(
        Problem(
            "Invalid Schema",
            f"{field}: unsupported $schema {uri!r}; use one of {supported}, "
            "or leave it out for Draft 4",
        )
    )


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason an instance fails its schema, located by a JSON Pointer."""

    pointer: str
    message: str

    def describe(self, subject: str) -> str:
        where = f"at {self.pointer}" if self.pointer else "at the top level"
        return f"{subject} {where}: {self.message}"


def _pointer(path: list[str | int]) -> str:
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "".join("/" + part for part in escaped)


def _brief(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CompiledSchema:
    """A schema checked against its meta-schema and compiled for fast validation."""

    def __init__(self, schema: JSON, *, field: str = "schema", stored: bool = False) -> None:
        """Check and compile ``schema``; ``field`` names it in errors.

        ``stored`` marks a schema that was accepted before, whose patterns may
        use lookaround or backreferences (see the module docstring).
        """
        if not isinstance(schema, dict):
            raise InvalidInput(
                Problem("Invalid Schema", f"{field} must be a JSON object, got {_brief(schema)}")
            )

        meta_uri, validator_class = _select_draft(schema, field)
        _check_against_meta_schema(schema, meta_uri, field)
        try:
            self._validator = validator_class(schema, validate_formats=False, offline=True,
                                              pattern_options=_pattern_options(stored=stored))
        except jsonschema_rs.ValidationError as exc:
            if not list(exc.instance_path):
                raise InvalidInput(Problem("Invalid Schema", _compile_error(field, exc))) from exc
            raise InvalidInput(Problem("Invalid Schema", _pattern_error(
                field, exc, backtracking=_compiles_with_backtracking(schema, validator_class),
            ))) from exc
        except (jsonschema_rs.ReferencingError, ValueError) as exc:
            raise InvalidInput(Problem("Invalid Schema", _compile_error(field, exc))) from exc
        self.schema = schema

    def violations(self, instance: JSON) -> list[Violation]:
        """Return how ``instance`` breaks the schema, at most MAX_VIOLATIONS entries."""
        errors = itertools.islice(self._validator.iter_errors(instance), MAX_VIOLATIONS)
        return [_violation(error, self.schema) for error in errors]

    def validate(self, instance: JSON, *, subject: str) -> None:
        """Raise SchemaViolation with one problem per violation if ``instance`` is invalid."""
        found = self.violations(instance)
        if found:
            raise SchemaViolation(*(v.describe(subject) for v in found))


MAX_MESSAGE_CHARS = 300
MAX_VIOLATIONS = 100
"""How many violations of one instance are reported, so an error response stays small."""
MAX_REASONS_PER_OPTION = 5


def _violation(error: jsonschema_rs.ValidationError, schema: JSON) -> Violation:
    message = error.message
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."

    # For oneOf/anyOf, jsonschema-rs only reports that no option matched. Spell
    # out why each option failed, so the sender learns what to fix.
    branches = getattr(error.kind, "context", None)
    if branches:
        options = _resolve(schema, list(error.schema_path))
        message = f"{message}; " + "; ".join(
            _describe_option(number, branch, options)
            for number, branch in enumerate(branches, start=1)
        )

    return Violation(_pointer(list(error.instance_path)), message)


def _describe_option(number: int, branch: list[Any], options: JSON) -> str:
    title = ""
    if isinstance(options, list) and number <= len(options) and isinstance(options[number - 1],
                                                                             dict):
        title = options[number - 1].get("title", "")
    name = f"option {number}" + (f" ({title})" if isinstance(title, str) and title else "")
    reasons = [
        f"{_pointer(list(sub.instance_path)) or 'top level'}: {sub.message}"
        for sub in branch[:MAX_REASONS_PER_OPTION]
    ]
    if len(branch) > MAX_REASONS_PER_OPTION:
        reasons.append(f"and {len(branch) - MAX_REASONS_PER_OPTION} more")
    return f"{name} fails at " + ", ".join(reasons)


def _resolve(schema: JSON, path: list[str | int]) -> JSON:
    node = schema
    for part in path:
        in_object = isinstance(node, dict) and part in node
        in_array = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_object or in_array):
            return None
        node = node[part]
    return node


def _pattern_options(*, stored: bool) -> Any:
    if stored:
        return jsonschema_rs.FancyRegexOptions(backtrack_limit=BACKTRACK_LIMIT)
    return jsonschema_rs.RegexOptions()


def _compiles_with_backtracking(schema: JSON, validator_class: Any) -> bool:
    try:
        validator_class(schema, validate_formats=False, offline=True,
                        pattern_options=_pattern_options(stored=True))
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError):
        return False
    return True


def _pattern_error(field: str, exc: jsonschema_rs.ValidationError, *, backtracking: bool) -> str:
    """Describe a regular expression, located in the schema, that failed to compile."""
    where = f"{field} has a regular expression at {_pointer(list(exc.instance_path))}"
    if backtracking:
        return (f"{where} that this server does not run: {_first_line(exc)}. Patterns may "
                "not use lookaround or backreferences, because the server only runs "
                "regular expressions that match in linear time")
    return f"{where} that is invalid: {_first_line(exc)}"


def _compile_error(field: str, exc: BaseException) -> str:
    reason = _first_line(exc)
    if "Retrieval is disabled" in reason or "No base URI" in reason:
        return (f"{field} has a $ref to another document ({reason}); TopChef never fetches "
                "schemas, so put the definition under $defs and use a local $ref such as "
                "#/$defs/NAME")
    return f"{field} cannot be compiled: {reason}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_against_meta_schema(schema: dict[str, JSON], meta_uri: str, field: str) -> None:
    as_declared = {**schema, "$schema": meta_uri}
    try:
        jsonschema_rs.meta.validate(as_declared)
    except jsonschema_rs.ValidationError as exc:
        pointer = _pointer(list(exc.instance_path))
        where = f"at {pointer}" if pointer else "at the top level"
        raise InvalidInput(
            Problem("Invalid Schema", f"{field} is not a valid JSON Schema {where}: {exc.message}")
        ) from exc
    except jsonschema_rs.ReferencingError as exc:
        raise InvalidInput(
            Problem("Invalid Schema", f"{field} cannot be checked: {_first_line(exc)}")
        ) from exc


class SchemaCache:
    """Compiled schemas kept by key (a service id and role), least recently used evicted.

    Service schemas never change after creation, so a cached entry never goes stale.
    """

    def __init__(self, capacity: int = VALIDATOR_CACHE_SIZE) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, CompiledSchema] = OrderedDict()

    def cached(self, key: Hashable) -> CompiledSchema | None:
        """Return the compiled schema kept under ``key``, or None; compiles nothing."""
        compiled = self._entries.get(key)
        if compiled is not None:
            self._entries.move_to_end(key)
        return compiled

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def get(self, key: Hashable, schema: JSON) -> CompiledSchema:
        compiled = self._entries.get(key)
        if compiled is not None:
            self._entries.move_to_end(key)
            return compiled

        compiled = CompiledSchema(schema, stored=True)
        self._entries[key] = compiled
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return compiled
