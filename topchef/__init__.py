"""TopChef: a job broker that speaks HTTP.

A program here submits jobs to a service, a worker there takes them, runs them
and posts results back; both only reach the TopChef server, which enforces each
service's JSON Schema contract on every message.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("topchef")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
