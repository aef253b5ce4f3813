"""Schemas built to hurt: references, regular expressions, size and nesting.

Each gets a clear InvalidInput or works, and none takes long to compile or
to validate against.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from topchef.broker.errors import InvalidInput
from topchef.broker.schemas import MAX_VIOLATIONS, CompiledSchema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rabi"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"

QUICK_SECONDS = 1.0
"""Far above what each hostile case takes (milliseconds), far below a stall."""

CATASTROPHIC = "^(a+)+$"
"""Exponential on a backtracking engine for a run of a's that ends in another letter."""

RAMSEY = {"type": "RAMSEY", "wait_time": 1.5, "pulse_time": 0.5, "pulse_phase": 3.1}
PHOTONS = {"light_count": 10, "dark_count": 2, "result_count": 8,
           "time_completed": "2026-12-04T20:47:24+00:00"}


def example(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return schema


def rejection(schema: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        CompiledSchema(schema, field="job_registration_schema")
    return "; ".join(problem.detail for problem in error.value.problems)


def timed(action: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    outcome = action()
    return outcome, time.perf_counter() - started


@pytest.mark.parametrize(("draft", "container"), [
    (None, "definitions"), (DRAFT7, "definitions"),
    (DRAFT2020, "$defs"), (DRAFT2020, "definitions"),
])
def test_examples_behind_local_refs(draft: str | None, container: str) -> None:
    """The Rabi example schemas work unchanged when reached through a local $ref."""
    parameters = {k: v for k, v in example("rabi-ramsey-experiment.schema.json").items()
                  if k != "$schema"}
    results = {k: v for k, v in example("photon-count-result.schema.json").items()
               if k != "$schema"}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"parameters": {"$ref": f"#/{container}/parameters"},
                       "results": {"$ref": f"#/{container}/results"}},
        container: {"parameters": parameters, "results": results},
    }
    if draft is not None:
        schema["$schema"] = draft
    compiled = CompiledSchema(schema)

    assert compiled.violations({"parameters": RAMSEY, "results": PHOTONS}) == []
    violations = compiled.violations({"parameters": {**RAMSEY, "type": "RABBIT"},
                                      "results": {**PHOTONS, "dark_count": -1}})
    assert sorted(v.pointer for v in violations) == ["/parameters", "/results/dark_count"]


def test_recursive_ref_validates_tree() -> None:
    schema = {
        "$ref": "#/definitions/node",
        "definitions": {"node": {
            "type": "object", "required": ["value"],
            "properties": {"value": {"type": "integer"},
                           "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}},
        }},
    }
    tree: dict[str, Any] = {"value": 0}
    for depth in range(1, 20):
        tree = {"value": depth, "children": [tree]}

    compiled = CompiledSchema(schema)

    assert compiled.violations(tree) == []
    assert compiled.violations({"value": 1, "children": [{"value": "x"}]}) != []


@pytest.mark.parametrize("schema", [
    {"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/a"}}},
    {"$schema": DRAFT2020, "$ref": "#/$defs/a",
     "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}},
    {"$schema": DRAFT2020, "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}},
     "properties": {"x": {"$ref": "#/$defs/a"}}},
])
def test_ref_loop_compiles_and_ends(schema: dict[str, Any]) -> None:
    compiled, compile_seconds = timed(lambda: CompiledSchema(schema))
    _, validate_seconds = timed(lambda: compiled.violations({"x": [1, {"y": "z"}]}))

    assert compile_seconds < QUICK_SECONDS
    assert validate_seconds < QUICK_SECONDS


@pytest.mark.parametrize("reference", [
    "#/definitions/missing", "#/$defs/missing", "#/properties/nothing/items", "#missing-anchor",
])
def test_missing_local_definition_rejected(reference: str) -> None:
    detail = rejection({"$ref": reference, "definitions": {"present": {}}})

    assert detail.startswith("job_registration_schema cannot be compiled: ")


@pytest.mark.parametrize("reference", [
    "http://127.0.0.1:9/schema.json",
    "https://127.0.0.1:9/schema.json#/definitions/x",
    "file:///etc/hostname",
    "other.json",
    "urn:example:schema",
])
def test_remote_ref_rejected(reference: str) -> None:
    detail = rejection({"properties": {"x": {"$ref": reference}}})

    assert "has a $ref to another document" in detail
    assert "TopChef never fetches schemas" in detail


def test_remote_ref_via_relative_id_rejected() -> None:
    detail = rejection({"$schema": DRAFT7, "$id": "http://127.0.0.1:9/root.json",
                        "properties": {"x": {"$ref": "other.json"}}})

    assert "has a $ref to another document" in detail


@pytest.mark.parametrize("uri", ["http://127.0.0.1:9/my-draft#", "https://example.org/schema",
                                 "file:///etc/hostname", ""])
def test_unknown_draft_rejected_without_fetch(uri: str) -> None:
    if not uri:
        CompiledSchema({"$schema": uri})  # an empty $schema means Draft 4
        return
    detail = rejection({"$schema": uri})

    assert f"unsupported $schema {uri!r}" in detail


@pytest.mark.parametrize(("schema", "pointer"), [
    ({"properties": {"code": {"pattern": "(?<=a)b"}}}, "/properties/code/pattern"),
    ({"properties": {"code": {"pattern": r"(a)\1"}}}, "/properties/code/pattern"),
    ({"patternProperties": {"^(?!x)": {}}}, "/patternProperties/^(?!x)"),
])
def test_backtracking_pattern_rejected(schema: dict[str, Any], pointer: str) -> None:
    detail = rejection(schema)

    assert f"has a regular expression at {pointer}" in detail
    assert "may not use lookaround or backreferences" in detail


@pytest.mark.parametrize(("schema", "pointer"), [
    ({"properties": {"code": {"pattern": "["}}}, "/properties/code/pattern"),
    ({"properties": {"code": {"pattern": "a{2,1}"}}}, "/properties/code/pattern"),
])
def test_invalid_pattern_rejected(schema: dict[str, Any], pointer: str) -> None:
    detail = rejection(schema)

    assert f"is not a valid JSON Schema at {pointer}" in detail


def test_invalid_pattern_property_rejected() -> None:
    """Draft 4's meta-schema does not check patternProperties keys, so compiling does."""
    detail = rejection({"patternProperties": {"(unclosed": {}}})

    assert "has a regular expression at /patternProperties/(unclosed that is invalid" in detail


def test_catastrophic_pattern_decided_quickly() -> None:
    compiled = CompiledSchema({"type": "string", "pattern": CATASTROPHIC})
    hostile = "a" * 100_000 + "!"

    violations, seconds = timed(lambda: compiled.violations(hostile))

    assert len(violations) == 1
    assert violations[0].message.startswith('"aaaa')
    assert compiled.violations("a" * 100_000) == []
    assert seconds < QUICK_SECONDS


def test_catastrophic_property_names_decided_quickly() -> None:
    compiled = CompiledSchema({"patternProperties": {CATASTROPHIC: {"type": "integer"}},
                               "additionalProperties": False})
    hostile = {"a" * 1000 + str(index): index for index in range(1000)}

    violations, seconds = timed(lambda: compiled.violations(hostile))

    assert len(violations) == 1
    assert seconds < QUICK_SECONDS


def test_megabyte_of_hostile_strings_bounded() -> None:
    """Linear matching: a 1 MB body of strings built to backtrack is decided in linear time."""
    compiled = CompiledSchema({"type": "array", "items": {"pattern": CATASTROPHIC}})
    hostile = ["a" * 30 + "!"] * 30_000

    violations, seconds = timed(lambda: compiled.violations(hostile))

    assert len(violations) == MAX_VIOLATIONS
    assert seconds < QUICK_SECONDS * 5


def test_stored_backtracking_pattern_capped() -> None:
    """A schema stored before the linear rule still works, and each match is capped."""
    schema = {"properties": {"code": {"pattern": "^(a|a)+(?<=b)$"}}}
    compiled = CompiledSchema(schema, stored=True)

    violations, seconds = timed(lambda: compiled.violations({"code": "a" * 100_000}))

    assert len(violations) == 1
    assert "backtracking" in violations[0].message
    assert seconds < QUICK_SECONDS
    assert CompiledSchema({"pattern": "(?<=a)b"}, stored=True).violations("ab") == []


def test_huge_enum_works() -> None:
    members = [f"member-{index}" for index in range(100_000)]
    compiled, compile_seconds = timed(lambda: CompiledSchema({"enum": members}))

    assert compiled.violations("member-99999") == []
    assert compiled.violations("member-100000") != []
    assert compile_seconds < QUICK_SECONDS * 5


def test_deeply_nested_schema_works() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    instance: Any = 1
    for _ in range(30):
        schema = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
        instance = {"x": instance}

    compiled = CompiledSchema(schema)

    assert compiled.violations(instance) == []
    assert compiled.violations({"x": {"x": "deep"}}) != []
