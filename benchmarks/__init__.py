"""Benchmarks of a running TopChef: rates and latencies measured side by side in one run.

Run ``python -m benchmarks --help``. Every figure is measured against a
baseline or a competitor started in the same run on the same machine, because
the absolute numbers of a shared machine move from one minute to the next.
"""
