from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from topchef.broker.errors import InvalidInput, SchemaViolation
from topchef.broker.schemas import CompiledSchema, SchemaCache

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"

# exclusiveMinimum is a boolean modifier of minimum in Draft 4 and a number from Draft 6 on.
DRAFT4_EXCLUSIVE = {"minimum": 5, "exclusiveMinimum": True}
DRAFT6_EXCLUSIVE = {"exclusiveMinimum": 5}


def load_fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} is not present")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.mark.parametrize("uri", [None, "http://json-schema.org/schema#",
                                 "http://json-schema.org/draft-04/schema#",
                                 "http://json-schema.org/draft-04/schema"])
def test_draft4_by_default(uri: str | None) -> None:
    schema: dict[str, Any] = dict(DRAFT4_EXCLUSIVE)
    if uri is not None:
        schema["$schema"] = uri

    compiled = CompiledSchema(schema)

    assert compiled.violations(5)
    assert not compiled.violations(6)


@pytest.mark.parametrize("uri", ["http://json-schema.org/draft-06/schema#",
                                 "http://json-schema.org/draft-07/schema#",
                                 "https://json-schema.org/draft/2019-09/schema",
                                 "https://json-schema.org/draft/2020-12/schema"])
def test_later_drafts_honoured(uri: str) -> None:
    compiled = CompiledSchema({**DRAFT6_EXCLUSIVE, "$schema": uri})

    assert compiled.violations(5)
    assert not compiled.violations(6)


def test_draft4_rejects_numeric_exclusive_minimum() -> None:
    with pytest.raises(InvalidInput, match="not a valid JSON Schema"):
        CompiledSchema({"$schema": "http://json-schema.org/draft-04/schema#",
                        **DRAFT6_EXCLUSIVE})


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "integr"}, "at /type"),
        ({"required": "value"}, "at /required"),
        ({"properties": {"a": {"minimum": "0"}}}, "at /properties/a/minimum"),
        ({"$schema": "http://example.com/my-schema"}, "unsupported $schema"),
        ({"$schema": 4}, "$schema must be a string"),
        ({"properties": {"a": {"$ref": "http://example.com/a.json"}}}, "TopChef never fetches"),
    ],
)
def test_invalid_schemas_rejected(schema: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        CompiledSchema(schema, field="job_registration_schema")

    detail = caught.value.problems[0].detail
    assert fragment in detail
    assert detail.startswith("job_registration_schema")


def test_non_object_schema_rejected() -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        CompiledSchema(["type", "object"])


def test_local_ref_works() -> None:
    compiled = CompiledSchema({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"count": {"type": "integer"}},
        "properties": {"n": {"$ref": "#/$defs/count"}},
    })

    assert compiled.violations({"n": "x"})[0].pointer == "/n"


def test_format_is_annotation() -> None:
    compiled = CompiledSchema({"type": "string", "format": "date-time"})

    assert compiled.violations("yesterday afternoon") == []


def test_every_violation_reported_with_path() -> None:
    compiled = CompiledSchema({
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "required": ["a", "b", "c"],
    })

    with pytest.raises(SchemaViolation) as caught:
        compiled.validate({"a": "1", "b": 2}, subject="parameters")

    details = sorted(problem.detail for problem in caught.value.problems)
    assert len(details) == 3
    assert any(d.startswith("parameters at /a:") for d in details)
    assert any(d.startswith("parameters at /b:") for d in details)
    assert any(d.startswith("parameters at the top level:") and '"c"' in d for d in details)


def test_pointer_escapes_slash_and_tilde() -> None:
    compiled = CompiledSchema({"properties": {"a/b~c": {"type": "integer"}}})

    assert compiled.violations({"a/b~c": "x"})[0].pointer == "/a~1b~0c"


def test_rabi_one_of_explains_each_option() -> None:
    compiled = CompiledSchema(load_fixture("rabi-ramsey-experiment.schema.json"))

    violation = compiled.violations({"type": "RABI", "pulse_time": -1})[0]

    assert "option 1 (Sub-schema for a Ramsey experiment) fails at" in violation.message
    assert "option 2 (Sub-schema for a Rabi experiment) fails at" in violation.message
    assert "/pulse_time: -1 is less than the minimum of 0" in violation.message


def test_fixtures_accept_real_input() -> None:
    experiment = CompiledSchema(load_fixture("rabi-ramsey-experiment.schema.json"))
    result = CompiledSchema(load_fixture("photon-count-result.schema.json"))

    rabi = {"type": "RABI", "pulse_time": 1.5e-6, "number_of_repetitions": 100}
    ramsey = {"type": "RAMSEY", "wait_time": 1e-6, "pulse_time": 2e-8, "pulse_phase": 3.14}
    counts = {"light_count": 10, "dark_count": 2, "result_count": 7,
              "time_completed": "2026-12-04T20:00:00+00:00"}

    assert experiment.violations(rabi) == []
    assert experiment.violations(ramsey) == []
    assert result.violations(counts) == []


def test_cache_compiles_once_and_evicts() -> None:
    cache = SchemaCache(capacity=2)

    first = cache.get("a", {"type": "integer"})
    again = cache.get("a", {"type": "integer"})
    cache.get("b", {"type": "string"})
    cache.get("c", {"type": "number"})

    assert again is first
    assert cache.get("a", {"type": "integer"}) is not first
