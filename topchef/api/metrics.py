"""Prometheus metrics: job events counted by the broker's observer, HTTP requests, open waits.

Each application has a registry of its own, so several apps in one process
(as in tests) do not clash. Counters and histograms live in the process that
served the request: with several server processes (``--workers``) each one
counts its own requests, and a scrape reaches whichever process accepts the
connection. The jobs gauge is read from the database at scrape time, so it
is the same in every process.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from topchef.broker.models import Job, JobStatus
from topchef.broker.observer import BrokerObserver

QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400)
RUN_TIME_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other one is counted as ``other`` to bound the label set."""


JOB_COUNTS_MAX_AGE_SECONDS = 5.0
"""Scrapes this close together share one count of the jobs, which reads every job row."""


class JobCountCollector(Collector):
    """The ``topchef_jobs`` gauge, from the counts the last scrape read from the store."""

    def __init__(self) -> None:
        self.counts: Mapping[tuple[UUID, JobStatus], int] = {}
        self._counted_at = -math.inf
        self._lock = asyncio.Lock()

    async def refresh(self, count: Callable[[], Awaitable[Mapping[tuple[UUID, JobStatus], int]]],
                      ) -> None:
        """Count the jobs with ``count`` unless a count finished in the last few seconds.

        Concurrent scrapes wait for one count instead of each running its own.
        """
        async with self._lock:
            now = time.monotonic()
            if now - self._counted_at < JOB_COUNTS_MAX_AGE_SECONDS:
                return
            self.counts = await count()
            self._counted_at = time.monotonic()

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("topchef_jobs", "Jobs stored, by service and status.",
                                  labels=["service", "status"])
        for (service_id, status), count in sorted(self.counts.items(), key=str):
            gauge.add_metric([str(service_id), status.value], count)
        yield gauge


class Metrics(BrokerObserver):
    """The metrics of one application, and the observer that counts its job events."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.job_counts = JobCountCollector()
        self.registry.register(self.job_counts)
        ProcessCollector(registry=self.registry)
        self._define_job_metrics()
        self._define_http_metrics()

    def _define_job_metrics(self) -> None:
        def counter(name: str, text: str) -> Counter:
            return Counter(name, text, ["service"], registry=self.registry)

        self.submitted = counter("topchef_jobs_submitted", "Jobs queued, by service.")
        self.claimed = counter("topchef_jobs_claimed",
                               "Jobs moved to WORKING by a claim or a PATCH, by service.")
        self.completed = counter("topchef_jobs_completed", "Jobs that ended COMPLETED.")
        self.failed = counter("topchef_jobs_failed",
                              "Jobs that ended in ERROR, cancellations included.")
        self.requeued = counter("topchef_jobs_requeued",
                                "Jobs sent back to REGISTERED: retries, expired leases, PATCH.")
        self.lease_expiries = counter("topchef_lease_expiries", "Leases that ran out.")
        self.queue_wait = Histogram(
            "topchef_job_queue_wait_seconds",
            "Seconds from submission to the first claim, by service.",
            ["service"], buckets=QUEUE_WAIT_BUCKETS, registry=self.registry,
        )
        self.run_time = Histogram(
            "topchef_job_run_seconds",
            "Seconds from the first claim to COMPLETED or ERROR, retries included, by service.",
            ["service"], buckets=RUN_TIME_BUCKETS, registry=self.registry,
        )
        self.long_polls = Gauge("topchef_long_polls_open",
                                "Claims and result waits registered for a wake-up.",
                                registry=self.registry)
        self.event_streams = Gauge("topchef_event_streams_open",
                                   "Open GET /events streams.", registry=self.registry)

    def _define_http_metrics(self) -> None:
        labels = ["route", "method", "status"]
        self.http_requests = Counter("topchef_http_requests", "HTTP requests answered.",
                                     labels, registry=self.registry)
        self.http_duration = Histogram(
            "topchef_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response.",
            labels, buckets=HTTP_BUCKETS, registry=self.registry,
        )

    def follow_open_waits(self, *, long_polls: Callable[[], int],
                          event_streams: Callable[[], int]) -> None:
        """Read the two open-connection gauges from these callables at every scrape."""
        self.long_polls.set_function(long_polls)
        self.event_streams.set_function(event_streams)

    def render(self, *, accept: str) -> tuple[bytes, str]:
        """Return every metric and its content type.

        The format follows the Accept header: OpenMetrics when the scraper requests
        it, else the Prometheus text format.
        """
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "other"
        labels = (route, method, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_duration.labels(*labels).observe(seconds)

    # BrokerObserver

    def jobs_submitted(self, service_id: UUID, count: int) -> None:
        self.submitted.labels(str(service_id)).inc(count)

    def jobs_claimed(self, jobs: Sequence[Job], *, at: datetime) -> None:
        for job in jobs:
            service = str(job.service_id)
            self.claimed.labels(service).inc()
            if job.attempt == 1:
                seconds = (at - job.date_submitted).total_seconds()
                self.queue_wait.labels(service).observe(max(seconds, 0.0))

    def job_finished(self, job: Job, status: JobStatus, *, at: datetime) -> None:
        service = str(job.service_id)
        if status == JobStatus.COMPLETED:
            self.completed.labels(service).inc()
        else:
            self.failed.labels(service).inc()
        if job.date_started is not None:
            seconds = (at - job.date_started).total_seconds()
            self.run_time.labels(service).observe(max(seconds, 0.0))

    def job_requeued(self, job: Job) -> None:
        self.requeued.labels(str(job.service_id)).inc()

    def lease_expired(self, job: Job) -> None:
        self.lease_expiries.labels(str(job.service_id)).inc()
