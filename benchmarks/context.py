"""The run context given to every scenario: settings, progress output, earlier results."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.results import ScenarioResult


@dataclass
class RunContext:
    quick: bool
    topchef_src: Path | None = None
    """A TopChef checkout whose code the servers run, instead of the installed package."""
    results: list[ScenarioResult] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    shared: dict[str, Any] = field(default_factory=dict)
    """Measurements that several scenario rows reuse, such as the Celery run."""

    def seconds(self, full: float, quick: float) -> float:
        """Return how long a timed phase runs in this mode."""
        return quick if self.quick else full

    def progress(self, message: str) -> None:
        """Print a progress line to standard error, stamped with the seconds since the start."""
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)

    def find(self, scenario: str, store: str) -> ScenarioResult | None:
        for result in self.results:
            if result.scenario == scenario and result.store == store and result.status == "ok":
                return result
        return None
