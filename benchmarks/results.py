"""Figures with units, scenario results, the targets, and how they are printed and saved."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    value: float | None
    unit: str


@dataclass
class ScenarioResult:
    """The figures of one scenario on one store ("-" where no store is involved)."""

    scenario: str
    store: str
    status: str = "ok"
    """"ok", "skipped" (with ``reason``) or "failed" (with ``reason``)."""
    reason: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float | None, unit: str) -> None:
        self.figures[name] = Figure(value, unit)

    def value(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return None if figure is None else figure.value


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of ``samples`` (``fraction`` 0.5 is the median)."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Target:
    """A goal stated for one figure: ``scenario/figure`` compared with ``limit``."""

    scenario: str
    figure: str
    comparison: str
    """">=" or "<=" or "<"."""
    limit: float
    text: str
    stores: tuple[str, ...] = ()
    """Only these stores are judged; empty means every store."""

    def judge(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.comparison == ">=":
            return value >= self.limit
        if self.comparison == "<=":
            return value <= self.limit
        return value < self.limit


TARGETS = (
    Target("submit", "ratio_to_baseline", ">=", 0.5, "submit >= 50% of baseline"),
    Target("submit", "batch_ratio_to_single", ">=", 10, "batch >= 10x single submit"),
    Target("open_polls", "dispatch_gap_p50", "<", 5, "dispatch gap p50 < 5 ms, polls open",
           stores=("sqlite",)),
    Target("open_polls", "dispatch_gap_p99", "<", 25, "dispatch gap p99 < 25 ms, polls open",
           stores=("sqlite",)),
    Target("queue_depth", "claim_p50_ratio_deep_to_shallow", "<=", 2,
           "claim p50 deepest/shallowest <= 2"),
    Target("celery", "completed_ratio", ">=", 1, "job cycle >= Celery+Redis"),
    Target("celery", "latency_p50_ratio", "<=", 1, "submit-to-result p50 <= Celery's"),
)


def judge_targets(results: Sequence[ScenarioResult]) -> list[dict[str, Any]]:
    verdicts = []
    for target in TARGETS:
        for result in results:
            if result.scenario != target.scenario or result.status != "ok":
                continue
            if target.stores and result.store not in target.stores:
                continue
            value = result.value(target.figure)
            verdicts.append({
                "target": target.text, "scenario": result.scenario, "store": result.store,
                "figure": target.figure, "value": value, "met": target.judge(value),
            })
    return verdicts


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1:
        return f"{value:.2g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _status_text(result: ScenarioResult) -> str:
    return result.status if result.status == "ok" else f"{result.status}: {result.reason}"


def text_table(results: Sequence[ScenarioResult]) -> str:
    lines = [f"{'scenario':<12} {'store':<9} figures"]
    for result in results:
        if result.status != "ok":
            lines.append(f"{result.scenario:<12} {result.store:<9} {_status_text(result)}")
            continue
        cells = [f"{name}={format_value(figure.value)} {figure.unit}"
                 for name, figure in result.figures.items()]
        lines.append(f"{result.scenario:<12} {result.store:<9} " + ", ".join(cells[:4]))
        for start in range(4, len(cells), 4):
            lines.append(" " * 23 + ", ".join(cells[start:start + 4]))
        lines.extend(" " * 23 + f"note: {note}" for note in result.notes)
    return "\n".join(lines)


def text_verdicts(verdicts: Sequence[dict[str, Any]]) -> str:
    lines = []
    for verdict in verdicts:
        met = {True: "MET", False: "NOT MET", None: "UNKNOWN"}[verdict["met"]]
        lines.append(f"{met:<8} {verdict['target']} [{verdict['store']}]: "
                     f"{verdict['figure']} = {format_value(verdict['value'])}")
    return "\n".join(lines)


def markdown_table(results: Sequence[ScenarioResult], verdicts: Sequence[dict[str, Any]]) -> str:
    lines = ["| scenario | store | figure | value | unit |", "|---|---|---|---:|---|"]
    for result in results:
        if result.status != "ok":
            lines.append(f"| {result.scenario} | {result.store} | {_status_text(result)} | | |")
            continue
        for name, figure in result.figures.items():
            lines.append(f"| {result.scenario} | {result.store} | {name} | "
                         f"{format_value(figure.value)} | {figure.unit} |")
    notes = [f"- {result.scenario} [{result.store}]: {note}"
             for result in results for note in result.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += ["", "| target | store | value | met |", "|---|---|---:|---|"]
    for verdict in verdicts:
        met = {True: "yes", False: "no", None: "unknown"}[verdict["met"]]
        lines.append(f"| {verdict['target']} | {verdict['store']} | "
                     f"{format_value(verdict['value'])} | {met} |")
    return "\n".join(lines)


def to_json(results: Sequence[ScenarioResult]) -> list[dict[str, Any]]:
    return [asdict(result) for result in results]


def results_from_json(items: Sequence[dict[str, Any]]) -> list[ScenarioResult]:
    """Rebuild the results that ``to_json`` saved."""
    results = []
    for item in items:
        figures = {name: Figure(**figure) for name, figure in item["figures"].items()}
        results.append(ScenarioResult(**{**item, "figures": figures}))
    return results
