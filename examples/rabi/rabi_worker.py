"""A simulated Rabi/Ramsey experiment: a worker that returns photon counts.

The two schemas next to this file come from a lab's Rabi/Ramsey experiment
clients and are copied here unchanged. rabi-ramsey-experiment.schema.json
describes a job (a Rabi or a Ramsey sequence), and
photon-count-result.schema.json describes its result.

The simulation takes times in microseconds. A Rabi pulse of length t leaves
the qubit bright with probability (1 - exp(-t / T) cos(2 pi f t)) / 2, a
damped cosine; a Ramsey sequence oscillates with the wait time and the phase
of its second pulse. Each repetition counts photons from a Poisson
distribution whose mean lies between the dark and the bright level, so the
counts carry shot noise.

Run it from this directory, against a server on http://127.0.0.1:5000:

    topchef worker rabi_worker:experiment
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from topchef.worker import worker

HERE = Path(__file__).parent
SERVICE_NAME = "Simulated Rabi Experiment"

RABI_FREQUENCY_MHZ = 1.0
"""Rabi oscillations per microsecond of pulse."""
RABI_DECAY_MICROSECONDS = 3.0
RAMSEY_DETUNING_MHZ = 0.5
RAMSEY_DEPHASING_MICROSECONDS = 5.0
BRIGHT_PHOTONS = 10.0
"""Mean photons counted in one repetition from a bright (excited) qubit."""
DARK_PHOTONS = 1.0
"""Mean photons counted in one repetition from a dark qubit: background light."""
KNUTH_POISSON_LIMIT = 50.0
"""Above this mean, a rounded normal distribution replaces the Poisson one."""

_rng = random.Random()


def bright_probability(parameters: dict[str, Any]) -> float:
    """Return the chance that one repetition of the sequence ends bright."""
    if parameters["type"] == "RABI":
        t = parameters["pulse_time"]
        decay = math.exp(-t / RABI_DECAY_MICROSECONDS)
        return (1 - decay * math.cos(2 * math.pi * RABI_FREQUENCY_MHZ * t)) / 2
    wait = parameters["wait_time"]
    decay = math.exp(-wait / RAMSEY_DEPHASING_MICROSECONDS)
    phase = 2 * math.pi * RAMSEY_DETUNING_MHZ * wait + parameters["pulse_phase"]
    return (1 + decay * math.cos(phase)) / 2


def poisson(mean: float) -> int:
    """Draw from a Poisson distribution: Knuth's method for small means, else a normal one."""
    if mean <= 0:
        return 0
    if mean > KNUTH_POISSON_LIMIT:
        return max(0, round(_rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, _rng.random()
    while product > limit:
        count += 1
        product *= _rng.random()
    return count


@worker(service=SERVICE_NAME,
        description="A simulated qubit: Rabi and Ramsey sequences return photon counts",
        job_registration_schema=HERE / "rabi-ramsey-experiment.schema.json",
        job_result_schema=HERE / "photon-count-result.schema.json")
def experiment(parameters: dict[str, Any]) -> dict[str, Any]:
    repetitions = parameters.get("number_of_repetitions", 1)
    level = DARK_PHOTONS + (BRIGHT_PHOTONS - DARK_PHOTONS) * bright_probability(parameters)
    return {
        "light_count": poisson(BRIGHT_PHOTONS * repetitions),
        "dark_count": poisson(DARK_PHOTONS * repetitions),
        "result_count": poisson(level * repetitions),
        "time_completed": datetime.now(UTC).isoformat(),
    }
