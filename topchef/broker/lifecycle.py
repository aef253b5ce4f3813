"""The job status state machine.

Allowed changes (anything else is a 409 Conflict):

    REGISTERED -> WORKING | COMPLETED | ERROR
    WORKING    -> WORKING | REGISTERED | COMPLETED | ERROR
    ERROR      -> REGISTERED (a retry) | ERROR
    COMPLETED  -> nothing

A PATCH that repeats a REGISTERED or COMPLETED job exactly as it is changes
nothing and is accepted, so a client may send back the job it just read.
"""

from __future__ import annotations

from topchef.broker.errors import Conflict, Problem
from topchef.broker.models import JobStatus

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.REGISTERED: frozenset(
        {JobStatus.WORKING, JobStatus.COMPLETED, JobStatus.ERROR}
    ),
    JobStatus.WORKING: frozenset(
        {JobStatus.WORKING, JobStatus.REGISTERED, JobStatus.COMPLETED, JobStatus.ERROR}
    ),
    JobStatus.ERROR: frozenset({JobStatus.REGISTERED, JobStatus.ERROR}),
    JobStatus.COMPLETED: frozenset(),
}

FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.ERROR})


def check_transition(current: JobStatus, target: JobStatus, *, changes_results: bool) -> None:
    """Raise Conflict unless a job in ``current`` may move to ``target``.

    ``changes_results`` is whether the same request stores different results.
    """
    if target in _ALLOWED[current]:
        return

    if target == current and not changes_results:
        return

    if target == current == JobStatus.COMPLETED:
        detail = "a COMPLETED job is final; its results cannot change"
    elif target == current:
        detail = (f"the results of a {current} job cannot change unless its status changes too; "
                  "send them with status WORKING, COMPLETED or ERROR")
    else:
        detail = f"a job cannot move from {current} to {target}"
    raise Conflict(Problem("Status Change Not Allowed", detail))
