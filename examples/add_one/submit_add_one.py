"""Submit Add One jobs for the numbers given on the command line and print the results.

    python submit_add_one.py 1 2 41

The worker in add_one_worker.py must be running, or the jobs wait in the queue
until one starts (up to --timeout seconds for each). TOPCHEF_URL names the server
(default http://127.0.0.1:5000).
"""

from __future__ import annotations

import argparse
import os
import sys

from topchef.client import DEFAULT_URL, Client, WaitTimeoutError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("values", nargs="+", type=int, help="the numbers to add one to")
    parser.add_argument("--url", default=os.environ.get("TOPCHEF_URL", DEFAULT_URL))
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for each result (default 60)")
    arguments = parser.parse_args()

    with Client(arguments.url) as topchef:
        services = [s for s in topchef.list_services() if s.name == "Add One"]
        if not services:
            print("no service is named 'Add One'; start the worker first: "
                  "topchef worker add_one_worker:add_one", file=sys.stderr)
            return 1

        jobs = topchef.submit_many(services[0].id, [{"value": v} for v in arguments.values])
        try:
            for job in jobs:
                finished = topchef.wait(job.id, timeout=arguments.timeout)
                if finished.results is None:
                    print(f"job {job.id} failed: {finished.error}", file=sys.stderr)
                    return 1
                print(f"{job.parameters['value']} + 1 = {finished.results['result']}")
        except WaitTimeoutError as exc:
            print(f"{exc}; is the worker running?", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
