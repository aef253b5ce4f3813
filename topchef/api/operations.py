"""Routes for operators: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` and ``/readyz`` respond in the classic envelope, so a 503 carries
the reason like every other error. ``/metrics`` responds in the Prometheus
text format.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from topchef.api.envelope import failure, success
from topchef.api.metrics import Metrics
from topchef.api.state import broker_of
from topchef.broker import Problem
from topchef.broker.observer import count_jobs_by_service

log = logging.getLogger(__name__)

NOT_READY_TITLE = "Not Ready"


async def metrics(request: Request) -> Response:
    """Count the jobs by service and status (one query), then render every metric."""
    store = broker_of(request).store
    app_metrics: Metrics = request.app.state.metrics
    await app_metrics.job_counts.refresh(lambda: count_jobs_by_service(store))
    body, content_type = app_metrics.render(accept=request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type})


async def healthz(request: Request) -> Response:
    """Return 200 while the process serves requests; it checks nothing else."""
    return success({"status": "alive"}, self_url=str(request.url))


async def readyz(request: Request) -> Response:
    """Return 200 when the store responds and its schema is current, else 503 with the reason."""
    reason = await broker_of(request).store.check_ready()
    _log_change(request, reason)
    if reason is not None:
        return failure(503, [Problem(NOT_READY_TITLE, reason)])
    return success({"status": "ready"}, self_url=str(request.url))


def _log_change(request: Request, reason: str | None) -> None:
    """Log when readiness changes, not at every probe."""
    previous: str | None = getattr(request.app.state, "not_ready_reason", None)
    request.app.state.not_ready_reason = reason
    if reason is not None and reason != previous:
        log.warning("not ready to serve requests: %s", reason)
    elif reason is None and previous is not None:
        log.info("ready to serve requests again")
