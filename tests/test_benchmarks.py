"""The benchmark suite runs end to end in quick mode and reports every scenario.

It checks the shape of the JSON report only; the figures depend on the machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from benchmarks.cli import SCENARIOS

pytestmark = pytest.mark.bench

REPOSITORY = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_SECONDS = 480


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("bench") / "results.json"
    command = [sys.executable, "-m", "benchmarks", "--quick", "--store", "all",
               "--json", str(path)]
    completed = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True,
                               timeout=RUN_TIMEOUT_SECONDS, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document: dict[str, object] = orjson.loads(path.read_bytes())
    return document


def test_report_has_every_scenario(report: dict[str, object]) -> None:
    results = report["results"]
    assert isinstance(results, list)
    assert {result["scenario"] for result in results} == set(SCENARIOS)


def test_scenarios_ran_or_say_why(report: dict[str, object]) -> None:
    results = report["results"]
    assert isinstance(results, list)
    for result in results:
        skippable = result["scenario"] == "celery" or result["store"] == "postgres"
        if skippable and result["status"] == "skipped":
            assert result["reason"]
            continue
        assert result["status"] == "ok", result
        assert result["figures"], result


def test_every_figure_has_unit(report: dict[str, object]) -> None:
    results = report["results"]
    assert isinstance(results, list)
    for result in results:
        for name, figure in result["figures"].items():
            assert figure["unit"], f"{result['scenario']}/{name} has no unit"


def test_machine_names_versions(report: dict[str, object]) -> None:
    machine = report["machine"]
    assert isinstance(machine, dict)
    for name in ("cores", "python", "topchef", "uvicorn", "sqlalchemy", "sqlite",
                 "load_generator"):
        assert machine[name], name


def test_targets_are_judged(report: dict[str, object]) -> None:
    targets = report["targets"]
    assert isinstance(targets, list)
    assert {target["scenario"] for target in targets} >= {"submit", "queue_depth"}
