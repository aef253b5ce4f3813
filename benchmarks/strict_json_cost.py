"""Measure what the duplicate-key and integer-range checks add to reading a request body.

Run with ``.venv/bin/python benchmarks/strict_json_cost.py``. It prints, for a
typical job body of about 200 bytes and for bodies of about 1 MB, the time of
``orjson.loads`` alone and of ``check_strict_json`` on its result, as the mean
of many runs on this machine.
"""

from __future__ import annotations

import random
import string
import timeit
from collections.abc import Callable

import orjson

from topchef.api.strict_json import check_strict_json

SEED = 1
ITEMS_PER_MEGABYTE = 15_500


def typical_job() -> bytes:
    return orjson.dumps({
        "parameters": {"type": "RABI", "pulse_time": 0.000125, "repetitions": 5000,
                       "detuning": -12.5, "label": "scan 17 of the Rabi series, second cooldown",
                       "channels": [1, 2, 3, 4]},
        "priority": 3,
    })


def large_job(rng: random.Random, *, timestamps: bool) -> bytes:
    items = []
    for index in range(ITEMS_PER_MEGABYTE):
        item: dict[str, object] = {
            "index": index,
            "value": rng.random(),
            "name": "".join(rng.choices(string.ascii_letters, k=12)),
        }
        if timestamps:
            item["taken_at"] = "2026-12-04T20:47:24+00:00"
        items.append(item)
    return orjson.dumps({"parameters": {"items": items}})


def mean_seconds(function: Callable[[], object], runs: int) -> float:
    return timeit.timeit(function, number=runs) / runs


def report(name: str, body: bytes, runs: int) -> None:
    value = orjson.loads(body)
    load = mean_seconds(lambda: orjson.loads(body), runs)
    check = mean_seconds(lambda: check_strict_json(body, value), runs)
    print(f"{name:32} {len(body):>9} bytes  orjson.loads {load * 1e6:9.1f} us  "
          f"check_strict_json {check * 1e6:9.1f} us")


def main() -> None:
    rng = random.Random(SEED)
    report("typical job", typical_job(), runs=20_000)
    report("1 MB job", large_job(rng, timestamps=False), runs=50)
    report("1 MB job, colons in strings", large_job(rng, timestamps=True), runs=50)
    escaped = b'{"parameters": {"text": "' + b"\\u00e9\\u003a" * 80_000 + b'"}}'
    report("1 MB job, escaped colons", escaped, runs=50)


if __name__ == "__main__":
    main()
