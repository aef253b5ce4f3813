"""``GET /events`` on a real server process, on both stores."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import STORES, fresh_postgres_schema
from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.sse import EventReader, Message

pytestmark = pytest.mark.e2e

ALL_TYPES = {
    "job.created", "job.claimed", "job.completed", "job.failed", "job.requeued",
    "job.cancelled", "job.deleted", "service.created", "service.checked_in",
    "service.timed_out", "service.deleted",
}
DATA_FIELDS = {"id", "type", "at", "service_id", "job_id", "status", "attempt", "worker",
               "detail"}
WINDOW_EVENTS = 3


def create_service(http: httpx.Client, **settings: Any) -> str:
    response = http.post("/services", json={
        "name": "events", "description": "", "job_registration_schema": {"type": "object"},
        "job_result_schema": {}, **settings,
    })
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit(http: httpx.Client, service_id: str) -> str:
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": {"secret": 42}})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def claim(http: httpx.Client, service_id: str) -> dict[str, Any]:
    response = http.post(f"/services/{service_id}/jobs/next", json={"worker": "w1"})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def of_service(service_id: str, last_type: str) -> Any:
    def until(message: Message) -> bool:
        data = message.json()
        return bool(data["service_id"] == service_id and data["type"] == last_type)
    return until


def exercise_every_type(http: httpx.Client) -> str:
    """Cause one event of each type on a new service; return the service id."""
    service_id = create_service(http, retry_delay_seconds=0)
    submit(http, service_id)
    done = claim(http, service_id)
    http.patch(f"/jobs/{done['id']}", json={
        "status": "COMPLETED", "results": {"secret": 43}, "lease": done["lease"]["token"],
    }).raise_for_status()
    submit(http, service_id)
    failed = claim(http, service_id)
    http.post(f"/jobs/{failed['id']}/fail", json={
        "lease": failed["lease"]["token"], "error": "broken", "retry": False,
    }).raise_for_status()
    submit(http, service_id)
    requeued = claim(http, service_id)
    http.post(f"/jobs/{requeued['id']}/fail", json={
        "lease": requeued["lease"]["token"], "error": "flaky", "retry": True,
    }).raise_for_status()
    http.post(f"/jobs/{requeued['id']}/cancel").raise_for_status()
    http.delete(f"/jobs/{submit(http, service_id)}").raise_for_status()
    http.patch(f"/services/{service_id}").raise_for_status()
    http.post(f"/services/{service_id}/unavailable").raise_for_status()
    http.delete(f"/services/{service_id}").raise_for_status()
    return service_id


def test_every_event_type_streamed(server: ServerProcess, http: httpx.Client) -> None:
    with EventReader(server.url) as reader:
        assert reader.status_code == 200
        assert reader.response_headers is not None
        assert reader.response_headers["content-type"].startswith("text/event-stream")
        first = reader.next()
        assert first.retry is not None
        service_id = exercise_every_type(http)
        messages = reader.events(of_service(service_id, "service.deleted"))

    mine = [m for m in messages if m.json()["service_id"] == service_id]
    assert {m.event for m in mine} == ALL_TYPES
    for message in mine:
        data = message.json()
        assert set(data) == DATA_FIELDS
        assert message.id == str(data["id"])
        assert message.event == data["type"]
        assert "secret" not in message.data
    ids = [int(m.id or 0) for m in messages]
    assert ids == sorted(ids)


def test_job_event_fields(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service(http)
    with EventReader(server.url, params={"service": service_id}) as reader:
        submit(http, service_id)
        job = claim(http, service_id)
        http.patch(f"/jobs/{job['id']}", json={
            "status": "COMPLETED", "results": {}, "lease": job["lease"]["token"],
        }).raise_for_status()
        messages = reader.events(lambda m: m.event == "job.completed")

    completed = messages[-1].json()
    assert completed["job_id"] == job["id"]
    assert completed["service_id"] == service_id
    assert completed["status"] == "COMPLETED"
    assert completed["attempt"] == 1
    assert completed["worker"] == "w1"
    assert completed["at"].endswith("+00:00")
    assert [m.event for m in messages] == ["job.created", "job.claimed", "job.completed"]


def test_service_filter(server: ServerProcess, http: httpx.Client) -> None:
    followed, other = create_service(http), create_service(http)
    with EventReader(server.url, params={"service": followed}) as reader:
        submit(http, other)
        submit(http, followed)
        http.patch(f"/services/{followed}").raise_for_status()
        messages = reader.events(lambda m: m.event == "service.checked_in")

    assert {m.json()["service_id"] for m in messages} == {followed}
    assert [m.event for m in messages] == ["job.created", "service.checked_in"]


def test_job_filter_comma_separated(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service(http)
    first, second, ignored = (submit(http, service_id) for _ in range(3))
    with EventReader(server.url, params={"job": f"{first},{second}"}) as reader:
        for job_id in (ignored, first, second):
            http.post(f"/jobs/{job_id}/cancel").raise_for_status()
        messages = reader.events(lambda m: m.json()["job_id"] == second)

    assert [m.json()["job_id"] for m in messages] == [first, second]


def test_sweep_times_out_once(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service(http, timeout=1)
    with EventReader(server.url, params={"service": service_id, "after": "0"}) as reader:
        reader.events(lambda m: m.event == "service.timed_out", timeout=10)
        time.sleep(2.5)
        checked_in = http.patch(f"/services/{service_id}?view=full")
        later = reader.events(lambda m: m.event == "service.checked_in")

    assert [m.event for m in later] == ["service.checked_in"]
    assert checked_in.json()["data"]["timed_out_at"] is None
    assert checked_in.json()["data"]["has_timed_out"] is False


@pytest.mark.parametrize("query", [
    "service=not-a-uuid", "job=123", "job=", "after=-1", "after=abc",
])
def test_invalid_query_rejected(http: httpx.Client, query: str) -> None:
    response = http.get(f"/events?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] in ("Invalid Filter", "Invalid Event Id")


def test_invalid_last_event_id_rejected(http: httpx.Client) -> None:
    response = http.get("/events", headers={"Last-Event-ID": "x1"})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["errors"][0]["detail"]


def test_resume_after_last_event_id(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service(http)
    with EventReader(server.url, params={"service": service_id}) as reader:
        submit(http, service_id)
        seen = reader.events(lambda m: m.event == "job.created")
    last_id = seen[-1].id
    assert last_id is not None
    missed = [submit(http, service_id) for _ in range(3)]

    with EventReader(server.url, params={"service": service_id},
                     headers={"Last-Event-ID": last_id}) as reader:
        resumed = reader.events(lambda m: m.json()["job_id"] == missed[-1])
    with EventReader(server.url, params={"service": service_id, "after": last_id}) as reader:
        by_query = reader.events(lambda m: m.json()["job_id"] == missed[-1])

    assert [m.json()["job_id"] for m in resumed] == missed
    assert [m.id for m in by_query] == [m.id for m in resumed]
    assert all(int(m.id or 0) > int(last_id) for m in resumed)


def test_after_zero_replays_window(server: ServerProcess, http: httpx.Client) -> None:
    service_id = create_service(http)
    job_id = submit(http, service_id)
    with EventReader(server.url, params={"service": service_id, "after": "0"}) as reader:
        replayed = reader.events(lambda m: m.event == "job.created")

    assert [m.event for m in replayed] == ["service.created", "job.created"]
    assert replayed[-1].json()["job_id"] == job_id


# A server of their own: short heartbeats, a tiny resume window, frequent purges.

@pytest.fixture(scope="module", params=STORES)
def small_window_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp(f"events-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{directory / 'topchef.db'}"
        else:
            url = stack.enter_context(fresh_postgres_schema())
        running = start_server(
            url, directory / "server.log", "--event-heartbeat-seconds", "0.3",
            "--event-window-events", str(WINDOW_EVENTS), "--purge-interval-seconds", "0.1",
        )
        stack.callback(running.stop)
        yield running


def test_keep_alive_comments(small_window_server: ServerProcess) -> None:
    with EventReader(small_window_server.url) as reader:
        started = time.monotonic()
        comments = []
        while len(comments) < 2:
            message = reader.next(timeout=5)
            if message.comment is not None:
                comments.append(message.comment)

    assert comments == ["keep-alive", "keep-alive"]
    assert time.monotonic() - started < 3


def test_reset_beyond_window(small_window_server: ServerProcess) -> None:
    with httpx.Client(base_url=small_window_server.url, timeout=10) as http:
        service_id = create_service(http)
        for _ in range(WINDOW_EVENTS + 5):
            submit(http, service_id)
        deadline = time.monotonic() + 10
        while True:
            with EventReader(small_window_server.url, params={"after": "1"}) as reader:
                first = reader.events(lambda _message: True)[0]
            if first.event == "reset" or time.monotonic() > deadline:
                break
            time.sleep(0.2)

        with EventReader(small_window_server.url, params={"after": "1"}) as reader:
            messages = reader.events(lambda m: m.event != "reset")

    reset, following = messages[0], messages[1]
    assert reset.event == "reset"
    assert reset.json()["after"] == 1
    assert int(reset.id or 0) == reset.json()["resume_after"]
    assert int(following.id or 0) == reset.json()["resume_after"] + 1


def test_unknown_future_id_resets(small_window_server: ServerProcess) -> None:
    with EventReader(small_window_server.url,
                     headers={"Last-Event-ID": "999999999"}) as reader:
        messages = reader.events(lambda _message: True)

    assert messages[0].event == "reset"
    assert messages[0].json()["after"] == 999999999


def test_stop_ends_open_streams(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "server.log")
    try:
        with EventReader(server.url) as reader:
            reader.next()
            started = time.monotonic()
            exit_code = server.stop()
            closed = reader.wait_closed(timeout=5)
            stop_seconds = time.monotonic() - started
    finally:
        server.stop()

    assert closed
    assert reader.error is None
    assert exit_code in (0, -15)
    assert stop_seconds < 5
    assert "Application shutdown complete" in server.log()


# Two server processes on one PostgreSQL database.

@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    with fresh_postgres_schema() as url:
        started: list[ServerProcess] = []
        try:
            for index in range(2):
                started.append(start_server(url, tmp_path / f"server-{index}.log"))
            yield started
        finally:
            for server in started:
                server.stop()


def test_event_crosses_processes(two_servers: list[ServerProcess]) -> None:
    writer, streamer = two_servers
    with httpx.Client(base_url=writer.url, timeout=10) as http:
        service_id = create_service(http)
        with (EventReader(streamer.url, params={"service": service_id}) as remote,
              EventReader(writer.url, params={"service": service_id}) as local):
            job_id = submit(http, service_id)
            started = time.monotonic()
            seen_remote = remote.events(lambda m: m.event == "job.created")
            delay = time.monotonic() - started
            seen_local = local.events(lambda m: m.event == "job.created")

    assert seen_remote[-1].json()["job_id"] == job_id
    assert [m.id for m in seen_remote] == [m.id for m in seen_local]
    assert delay < 1.5, f"streamed after {delay:.2f} s, by the poll instead of the NOTIFY"
