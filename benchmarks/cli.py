"""``python -m benchmarks``: run the scenarios, print the machine and a table, save JSON."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks import servers
from benchmarks.context import RunContext
from benchmarks.machine import describe_machine, text_machine
from benchmarks.results import (
    ScenarioResult,
    judge_targets,
    markdown_table,
    results_from_json,
    text_table,
    text_verdicts,
    to_json,
)
from benchmarks.scenarios import celery_cycle, cycle, depth, polls, rates

StoreScenario = Callable[[RunContext, str], ScenarioResult]

STORE_SCENARIOS: dict[str, StoreScenario] = {
    "submit": rates.submit,
    "cycle": cycle.job_cycle,
    "dispatch_gap": polls.dispatch_gap,
    "queue_depth": depth.queue_depth,
    "open_polls": polls.open_polls,
    "celery": celery_cycle.celery_cycle,
}
SCENARIOS = ("baseline", *STORE_SCENARIOS)
STORES = {"sqlite": ("sqlite",), "postgres": ("postgres",), "all": ("sqlite", "postgres")}
DEFAULT_JSON = Path("benchmark-results.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure TopChef against a bare endpoint and Celery+Redis, side by side.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds per scenario and smaller queue depths (for CI)")
    parser.add_argument("--store", choices=tuple(STORES), default="all",
                        help="the stores to run on (default: all; PostgreSQL is skipped "
                        "where unreachable)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help="where every figure is written with its unit "
                        f"(default: {DEFAULT_JSON})")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, metavar="NAME",
                        help=f"run only these scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table and the targets as Markdown")
    parser.add_argument("--from-json", type=Path, metavar="PATH",
                        help="run nothing; print the Markdown table of an earlier run's JSON")
    parser.add_argument("--topchef-src", type=Path, metavar="DIR",
                        help="run the servers on the TopChef code in DIR (a checkout or "
                        "worktree) instead of the installed package")
    return parser


def _run_one(context: RunContext, scenario: str, store: str,
             postgres_reason: str | None) -> ScenarioResult:
    if store == "postgres" and postgres_reason:
        return ScenarioResult(scenario, store, status="skipped", reason=postgres_reason)
    try:
        if scenario == "baseline":
            return rates.baseline(context)
        return STORE_SCENARIOS[scenario](context, store)
    except Exception as exc:  # one broken scenario must not lose the others' figures
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {exc}"
        return ScenarioResult(scenario, store, status="failed", reason=reason)


def run(context: RunContext, scenarios: tuple[str, ...], stores: tuple[str, ...]) -> None:
    """Run every scenario on every store, in SCENARIOS order, into ``context.results``."""
    postgres_reason = servers.postgres_unreachable_reason() if "postgres" in stores else None
    if postgres_reason:
        context.progress(f"PostgreSQL scenarios skipped: {postgres_reason}")
    for scenario in scenarios:
        for store in ("-",) if scenario == "baseline" else stores:
            if context.find(scenario, store) is not None:
                continue  # already run because a later scenario needed it
            started = time.monotonic()
            result = _run_one(context, scenario, store, postgres_reason)
            context.results.append(result)
            context.progress(f"{scenario} [{store}] {result.status} "
                             f"in {time.monotonic() - started:.1f} s")


def _print_saved(path: Path) -> None:
    """Print the Markdown table of a saved run, with its date, command and machine."""
    document = orjson.loads(path.read_bytes())
    machine = document["machine"]
    print(f"Run of {document['date']}: `{document['command']}`, {machine['cores']} cores, "
          f"load generator {machine['load_generator']}.")
    print()
    print(markdown_table(results_from_json(document["results"]), document["targets"]))


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    if arguments.from_json:
        _print_saved(arguments.from_json)
        return

    context = RunContext(quick=arguments.quick, topchef_src=arguments.topchef_src)
    machine = describe_machine(arguments.topchef_src)
    print(text_machine(machine), flush=True)
    scenarios = tuple(arguments.only) if arguments.only else SCENARIOS
    run(context, scenarios, STORES[arguments.store])

    verdicts = judge_targets(context.results)
    document = {
        "command": " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "machine": machine,
        "results": to_json(context.results),
        "targets": verdicts,
    }
    arguments.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))

    print()
    print(text_table(context.results))
    print()
    print(text_verdicts(verdicts))
    if arguments.markdown:
        print()
        print(markdown_table(context.results, verdicts))
    print(f"\nfigures written to {arguments.json}")
    if any(result.status == "failed" for result in context.results):
        sys.exit(1)
