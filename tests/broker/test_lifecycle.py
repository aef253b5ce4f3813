from __future__ import annotations

import itertools

import pytest

from topchef.broker.errors import Conflict
from topchef.broker.lifecycle import check_transition
from topchef.broker.models import JobStatus

R, W, C, E = (JobStatus.REGISTERED, JobStatus.WORKING, JobStatus.COMPLETED, JobStatus.ERROR)

ALLOWED = {
    (R, W), (R, C), (R, E),
    (W, W), (W, R), (W, C), (W, E),
    (E, R), (E, E),
}


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(JobStatus, repeat=2)))
def test_transition_table(current: JobStatus, target: JobStatus) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target, changes_results=True)
        return

    with pytest.raises(Conflict) as caught:
        check_transition(current, target, changes_results=True)
    assert current.value in caught.value.problems[0].detail


@pytest.mark.parametrize("status", [R, C])
def test_unchanged_repeat_is_no_op(status: JobStatus) -> None:
    check_transition(status, status, changes_results=False)


def test_completed_results_are_final() -> None:
    with pytest.raises(Conflict, match="COMPLETED job is final"):
        check_transition(C, C, changes_results=True)


@pytest.mark.parametrize("text", ["working", "Working", "WORKING"])
def test_status_parse_ignores_case(text: str) -> None:
    assert JobStatus.parse(text) is W


def test_status_parse_unknown() -> None:
    assert JobStatus.parse("DONE") is None
