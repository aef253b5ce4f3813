"""Scan the pulse time of the simulated Rabi experiment and show the oscillation.

    python rabi_scan.py --points 21 --max-pulse-time 2

submits one Rabi job per pulse time in one batch, waits for the worker in
rabi_worker.py to run them, and prints the counts with a text plot. With
--plot FILE and matplotlib installed, it also saves the plot as an image.
TOPCHEF_URL names the server (default http://127.0.0.1:5000).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from topchef.client import DEFAULT_URL, Client, TopChefError

SERVICE_NAME = "Simulated Rabi Experiment"
BAR_WIDTH = 50


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TOPCHEF_URL", DEFAULT_URL))
    parser.add_argument("--points", type=int, default=21, help="pulse times to try (default 21)")
    parser.add_argument("--max-pulse-time", type=float, default=2.0,
                        help="the maximum pulse time, in microseconds (default 2)")
    parser.add_argument("--repetitions", type=int, default=100,
                        help="repetitions per pulse time (default 100)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for each result (default 120)")
    parser.add_argument("--plot", metavar="FILE", help="save a plot here (needs matplotlib)")
    return parser.parse_args()


def scan(topchef: Client, service_id: str, arguments: argparse.Namespace
         ) -> list[tuple[float, dict[str, Any]]]:
    """Submit the scan, wait for every job, and return (pulse time, results) pairs."""
    step = arguments.max_pulse_time / max(1, arguments.points - 1)
    pulse_times = [round(i * step, 6) for i in range(arguments.points)]
    jobs = topchef.submit_many(service_id, [
        {"type": "RABI", "pulse_time": t, "number_of_repetitions": arguments.repetitions}
        for t in pulse_times
    ])
    measured = []
    for pulse_time, job in zip(pulse_times, jobs, strict=True):
        finished = topchef.wait(job.id, timeout=arguments.timeout)
        if finished.results is None:
            raise RuntimeError(f"job {job.id} at {pulse_time} us failed: {finished.error}")
        measured.append((pulse_time, finished.results))
    return measured


def print_scan(measured: list[tuple[float, dict[str, Any]]]) -> None:
    """Print each pulse time's counts and a bar for its bright fraction."""
    print(f"{'pulse (us)':>10}  {'result':>7}  {'dark':>6}  {'light':>6}  bright fraction")
    for pulse_time, results in measured:
        span = max(1, results["light_count"] - results["dark_count"])
        fraction = min(1.0, max(0.0, (results["result_count"] - results["dark_count"]) / span))
        bar = "#" * round(fraction * BAR_WIDTH)
        print(f"{pulse_time:>10.3f}  {results['result_count']:>7}  {results['dark_count']:>6}  "
              f"{results['light_count']:>6}  {fraction:4.2f} {bar}")


def save_plot(measured: list[tuple[float, dict[str, Any]]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed, so no plot was saved "
              "(pip install matplotlib)", file=sys.stderr)
        return
    figure, axes = plt.subplots()
    axes.plot([t for t, _ in measured], [r["result_count"] for _, r in measured], "o-")
    axes.set_xlabel("pulse time (µs)")
    axes.set_ylabel("photon counts")
    axes.set_title("Simulated Rabi oscillation")
    figure.savefig(path)
    print(f"saved the plot to {path}", file=sys.stderr)


def main() -> int:
    arguments = _arguments()
    with Client(arguments.url) as topchef:
        services = [s for s in topchef.list_services() if s.name == SERVICE_NAME]
        if not services:
            print(f"no service is named {SERVICE_NAME!r}; start the worker first: "
                  "topchef worker rabi_worker:experiment", file=sys.stderr)
            return 1
        try:
            measured = scan(topchef, services[0].id, arguments)
        except (TopChefError, RuntimeError) as exc:
            print(f"the scan failed: {exc}", file=sys.stderr)
            return 1
    print_scan(measured)
    if arguments.plot:
        save_plot(measured, arguments.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
