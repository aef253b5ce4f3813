"""Access control against real server processes: roles, bad tokens, binding and CORS.

The module's server reads a tokens file with one token per role. Every refused
request must leave the database as it was, which the tests check by reading
every row of the SQLite file before and after.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import fresh_postgres_schema
from tests.e2e.conftest import STARTUP_TIMEOUT_SECONDS, ServerProcess, free_port
from tests.e2e.worker_apps import PARAMETERS_SCHEMA, RESULTS_SCHEMA
from tests.e2e.workers import start_worker, wait_until
from topchef.cli import main
from topchef.client import AuthenticationError, Client, JobStatus, PermissionDeniedError

pytestmark = pytest.mark.e2e

ROLES = ("admin", "submit", "work", "read")
CORS_ORIGIN = "https://dashboard.example"
NO_BODY = object()
SERVICE_BODY = {"name": "guarded", "description": "", "job_registration_schema": {},
                "job_result_schema": {}}


@dataclass
class GuardedServer:
    """A server that reads a tokens file, with the token of each role and its database file."""

    process: ServerProcess
    tokens: dict[str, str]
    database: Path
    url_token: str
    """An admin token that a test sends in a URL query, where the server must not accept it."""

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return every row of every table, to show that a refused request changed nothing."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            names = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {name: sorted(connection.execute(f'SELECT * FROM "{name}"'), key=repr)
                    for name in names}


def add_token(tokens_file: Path, role: str, name: str) -> str:
    """Run ``topchef tokens add`` and return the token it prints."""
    result = CliRunner().invoke(main, ["tokens", "add", "--role", role, "--name", name,
                                       "--file", str(tokens_file)])
    assert result.exit_code == 0, result.output
    assert "only time the token is shown" in result.stderr
    return result.stdout.strip()


def launch(log_path: Path, *args: str, env: dict[str, str] | None = None,
           host: str = "127.0.0.1") -> ServerProcess:
    """Start ``topchef serve`` and wait for any HTTP response, since ``GET /`` may be 401."""
    port = free_port()
    command = [sys.executable, "-m", "topchef", "serve", "--host", host, "--port", str(port),
               *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOPCHEF_")}
    environment.update(env or {})
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   env=environment)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)

    def responds() -> bool:
        assert process.poll() is None, f"server exited with {process.returncode}:\n{server.log()}"
        try:
            httpx.get(server.url + "/", timeout=1)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(responds, timeout=STARTUP_TIMEOUT_SECONDS, what="the server to respond")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuardedServer]:
    directory = tmp_path_factory.mktemp("auth")
    tokens_file = directory / "tokens.txt"
    tokens = {role: add_token(tokens_file, role, f"{role}-token") for role in ROLES}
    url_token = add_token(tokens_file, "admin", "url-token")
    database = directory / "topchef.db"
    process = launch(directory / "server.log", "--database-url", f"sqlite:///{database}",
                     "--tokens-file", str(tokens_file), "--cors-origin", CORS_ORIGIN)
    try:
        yield GuardedServer(process, tokens, database, url_token)
    finally:
        process.stop()


@pytest.fixture
def http(guarded: GuardedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.url, timeout=10) as client:
        yield client


def new_service_and_job(http: httpx.Client, guarded: GuardedServer) -> tuple[str, str]:
    admin = guarded.headers("admin")
    created = http.post("/services", json={**SERVICE_BODY, "name": f"s-{uuid.uuid4().hex[:8]}"},
                        headers=admin)
    assert created.status_code == 201, created.text
    service_id = created.json()["data"]["id"]
    job = http.post(f"/services/{service_id}/jobs", json={"parameters": {}}, headers=admin)
    assert job.status_code == 201, job.text
    return service_id, job.json()["data"]["id"]


def assert_rejected(response: httpx.Response, status_code: int) -> None:
    assert response.status_code == status_code, response.text
    if status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="topchef"')
    else:
        assert "WWW-Authenticate" not in response.headers
    if response.request.method == "HEAD":
        return

    body = response.json()
    assert list(body) == ["errors"]
    [error] = body["errors"]
    assert error["status_code"] == status_code
    assert error["title"] == ("Unauthorized" if status_code == 401 else "Forbidden")


# Every route, with the least role it needs

@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    needs: str
    body: Any = NO_BODY

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTE_CASES = [
    RouteCase("GET", "/", "read"),
    RouteCase("HEAD", "/jobs", "read"),
    RouteCase("GET", "/services", "read"),
    RouteCase("POST", "/services", "admin", SERVICE_BODY),
    RouteCase("GET", "/services/{service}", "read"),
    RouteCase("PATCH", "/services/{service}", "work"),
    RouteCase("PATCH", "/services/{service}", "admin", {"timeout": 60}),
    RouteCase("DELETE", "/services/{service}?force=true", "admin"),
    RouteCase("GET", "/services/{service}/jobs", "read"),
    RouteCase("POST", "/services/{service}/jobs", "submit", {"parameters": {}}),
    RouteCase("POST", "/services/{service}/jobs/batch", "submit",
              {"jobs": [{"parameters": {}}]}),
    RouteCase("GET", "/services/{service}/queue", "read"),
    RouteCase("GET", "/services/{service}/jobs/next", "read"),
    RouteCase("POST", "/services/{service}/jobs/next", "work", {}),
    RouteCase("GET", "/jobs", "read"),
    RouteCase("GET", "/jobs/{job}", "read"),
    RouteCase("PATCH", "/jobs/{job}", "work", {"status": "WORKING"}),
    RouteCase("DELETE", "/jobs/{job}", "submit"),
    RouteCase("POST", "/jobs/{job}/heartbeat", "work", {"lease": "not-the-lease"}),
    RouteCase("POST", "/jobs/{job}/fail", "work", {"error": "gave up"}),
    RouteCase("POST", "/jobs/{job}/cancel", "submit"),
    RouteCase("GET", "/validator", "read"),
    RouteCase("POST", "/validator", "read", {"object": 1, "schema": {"type": "integer"}}),
    RouteCase("GET", "/no/such/path", "read"),
]
ALLOWED = {
    "admin": {"admin", "submit", "work", "read"},
    "submit": {"submit", "read"},
    "work": {"work", "read"},
    "read": {"read"},
}


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "no-token"])
@pytest.mark.parametrize("case", ROUTE_CASES, ids=str)
def test_route_access(http: httpx.Client, guarded: GuardedServer, case: RouteCase,
                      role: str | None) -> None:
    service_id, job_id = new_service_and_job(http, guarded)
    path = case.path.format(service=service_id, job=job_id)
    content = {} if case.body is NO_BODY else {"json": case.body}
    before = guarded.snapshot()

    response = http.request(case.method, path, headers=guarded.headers(role), **content)

    if role is not None and case.needs in ALLOWED[role]:
        assert response.status_code not in (401, 403), response.text
        return
    assert_rejected(response, 401 if role is None else 403)
    assert guarded.snapshot() == before
    if role is not None and case.method != "HEAD":
        detail = response.json()["errors"][0]["detail"]
        assert f"has role {role}" in detail
        assert f"needs role {case.needs}" in detail


# Bad tokens: each one is a bad request of the corpus, refused before the body is read

@dataclass(frozen=True)
class BadToken:
    name: str
    status_code: int
    headers: list[tuple[str, bytes]]
    path: str = "/services/{service}/jobs"
    method: str = "POST"

    def __str__(self) -> str:
        return self.name


def bearer(token: bytes) -> list[tuple[str, bytes]]:
    return [("Authorization", b"Bearer " + token)]


ADMIN = b"{admin}"
"""Stands for the admin token; the test puts in the real one."""

BAD_TOKENS = [
    BadToken("missing header", 401, []),
    BadToken("basic scheme", 401, [("Authorization", b"Basic YWRtaW46cGFzc3dvcmQ=")]),
    BadToken("token scheme", 401, [("Authorization", b"Token " + ADMIN)]),
    BadToken("no scheme", 401, [("Authorization", ADMIN)]),
    BadToken("scheme only", 401, [("Authorization", b"Bearer")]),
    BadToken("empty header", 401, [("Authorization", b"")]),
    BadToken("tab after scheme", 401, [("Authorization", b"Bearer\t" + ADMIN)]),
    BadToken("unknown token", 401, bearer(b"a" * 43)),
    BadToken("truncated token", 401, bearer(b"{admin_prefix}")),
    BadToken("token with extra char", 401, bearer(ADMIN + b"x")),
    BadToken("token in upper case", 401, bearer(b"{admin_upper}")),
    BadToken("space inside token", 401, bearer(b"{admin_prefix} " + b"rest")),
    BadToken("token then a word", 401, bearer(ADMIN + b" admin")),
    BadToken("quoted token", 401, bearer(b'"' + ADMIN + b'"')),
    BadToken("comma in token", 401, bearer(b"{admin_prefix},x")),
    BadToken("digest instead of token", 401, bearer(b"{admin_digest}")),
    BadToken("sha256 prefixed digest", 401, bearer(b"sha256:{admin_digest}")),
    BadToken("very long token", 401, bearer(b"A" * 8000)),
    BadToken("non-ascii bytes", 401, bearer(b"t\xf6ken\xff")),
    BadToken("utf-8 token", 401, bearer("tökén".encode())),
    BadToken("two headers, one valid", 401,
             [("Authorization", b"Bearer " + ADMIN), ("Authorization", b"Bearer wrong")]),
    BadToken("two valid headers", 401,
             [("Authorization", b"Bearer " + ADMIN), ("Authorization", b"Bearer " + ADMIN)]),
    BadToken("token in query", 401, [], path="/services/{service}/jobs?access_token={url_token}"),
    BadToken("token in cookie", 401, [("Cookie", b"token=" + ADMIN)]),
    BadToken("read token submits", 403, bearer(b"{read}")),
    BadToken("work token submits", 403, bearer(b"{work}")),
    BadToken("submit token claims", 403, bearer(b"{submit}"),
             path="/services/{service}/jobs/next"),
    BadToken("read token deletes service", 403, bearer(b"{read}"), path="/services/{service}",
             method="DELETE"),
    BadToken("work token changes settings", 403, bearer(b"{work}"), path="/services/{service}",
             method="PATCH"),
]


def fill(template: bytes, guarded: GuardedServer) -> bytes:
    """Put the server's tokens, and values made from the admin token, into ``template``."""
    admin = guarded.tokens["admin"]
    values = {
        **guarded.tokens,
        "url_token": guarded.url_token,
        "admin_prefix": admin[:20],
        "admin_upper": admin.upper() if admin.upper() != admin else admin.lower(),
        "admin_digest": hashlib.sha256(admin.encode()).hexdigest(),
    }
    for key, value in values.items():
        template = template.replace(b"{" + key.encode() + b"}", value.encode())
    return template


@pytest.mark.parametrize("bad", BAD_TOKENS, ids=str)
def test_bad_token_rejected(http: httpx.Client, guarded: GuardedServer, bad: BadToken) -> None:
    service_id, _ = new_service_and_job(http, guarded)
    path = fill(bad.path.replace("{service}", service_id).encode(), guarded).decode()
    headers = httpx.Headers([(name, fill(value, guarded)) for name, value in bad.headers])
    before = guarded.snapshot()

    # A body that is not JSON shows that the check comes before the body is parsed.
    response = http.request(bad.method, path, headers=headers, content=b"{not json")

    assert_rejected(response, bad.status_code)
    assert guarded.snapshot() == before
    assert guarded.tokens["admin"] not in response.text


def test_bad_token_corpus_size() -> None:
    assert len(BAD_TOKENS) >= 20


def test_rejection_logged_without_token(guarded: GuardedServer, http: httpx.Client) -> None:
    http.get("/jobs", headers=guarded.headers("read"))
    http.post("/services", json=SERVICE_BODY, headers=guarded.headers("work"))

    log = guarded.process.log()
    assert re.search(r"GET /jobs 200 [0-9.]+ ms token=read-token", log)
    assert "POST /services rejected with 403: token work-token has role work, needs admin" in log
    for token in guarded.tokens.values():
        assert token not in log


# Method override

def test_override_authorised_as_overridden(http: httpx.Client, guarded: GuardedServer) -> None:
    service_id, job_id = new_service_and_job(http, guarded)
    override = {"X-HTTP-Method-Override": "DELETE"}
    before = guarded.snapshot()

    refused = http.post(f"/jobs/{job_id}", headers={**guarded.headers("work"), **override})
    unchanged = guarded.snapshot()
    deleted = http.post(f"/jobs/{job_id}", headers={**guarded.headers("submit"), **override})
    check_in = http.post(f"/services/{service_id}",
                         headers={**guarded.headers("work"), "X-HTTP-Method-Override": "PATCH"})

    assert_rejected(refused, 403)
    assert "DELETE /jobs/" in refused.json()["errors"][0]["detail"]
    assert unchanged == before
    assert deleted.status_code == 204
    assert check_in.status_code == 200


# CORS

def test_cors_preflight_needs_no_token(http: httpx.Client) -> None:
    response = http.options("/services", headers={
        "Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]


def test_cors_headers_for_listed_origin(http: httpx.Client, guarded: GuardedServer) -> None:
    listed = http.get("/jobs", headers={"Origin": CORS_ORIGIN, **guarded.headers("read")})
    refused = http.get("/jobs", headers={"Origin": CORS_ORIGIN})
    other = http.get("/jobs", headers={"Origin": "https://other.example",
                                       **guarded.headers("read")})

    assert listed.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_off_without_origins(tmp_path: Path) -> None:
    token = "plain-token-from-the-environment"
    server = launch(tmp_path / "server.log", "--database-url", f"sqlite:///{tmp_path / 'a.db'}",
                    env={"TOPCHEF_TOKENS": f"read:env-reader:{token}"})
    try:
        preflight = httpx.options(server.url + "/services", headers={
            "Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET"})
        simple = httpx.get(server.url + "/services", headers={
            "Origin": CORS_ORIGIN, "Authorization": f"Bearer {token}"})
    finally:
        server.stop()

    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert_rejected(preflight, 401)
    assert simple.status_code == 200
    assert "Access-Control-Allow-Origin" not in simple.headers
    assert token not in server.log()


# Binding

def test_open_non_loopback_rejected(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOPCHEF_")}
    result = subprocess.run(
        [sys.executable, "-m", "topchef", "serve", "--host", "0.0.0.0", "--port",
         str(free_port()), "--database-url", f"sqlite:///{tmp_path / 'a.db'}"],
        capture_output=True, text=True, timeout=60, env=environment, check=False)

    assert result.returncode != 0
    assert "--allow-unauthenticated" in result.stderr
    assert "will not listen on 0.0.0.0 without access tokens" in result.stderr
    assert not (tmp_path / "a.db").exists()


def test_allow_unauthenticated_warns(tmp_path: Path) -> None:
    server = launch(tmp_path / "server.log", "--database-url", f"sqlite:///{tmp_path / 'a.db'}",
                    "--allow-unauthenticated", host="0.0.0.0")
    try:
        response = httpx.get(server.url + "/services")  # over 127.0.0.1 only
    finally:
        server.stop()

    assert response.status_code == 200
    assert "WARNING topchef.cli: NO ACCESS CONTROL: listening on 0.0.0.0" in server.log()


def test_loopback_open_without_switch(tmp_path: Path) -> None:
    server = launch(tmp_path / "server.log", "--database-url", f"sqlite:///{tmp_path / 'a.db'}")
    try:
        response = httpx.get(server.url + "/services")
    finally:
        server.stop()

    assert response.status_code == 200
    assert "NO ACCESS CONTROL" not in server.log()
    assert "access control off" in server.log()


def test_invalid_tokens_file_stops_start(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("admin alice not-a-digest\n")

    result = CliRunner().invoke(main, ["serve", "--tokens-file", str(tokens_file),
                                       "--database-url", f"sqlite:///{tmp_path / 'a.db'}"])

    assert result.exit_code == 1
    assert f"{tokens_file}, line 1: the digest must be 64 hexadecimal digits" in result.stderr


@pytest.mark.postgres
def test_tokens_reach_every_server_process(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.txt"
    token = add_token(tokens_file, "read", "reader")
    with fresh_postgres_schema() as database_url:
        server = launch(tmp_path / "server.log", "--database-url", database_url, "--workers",
                        "2", "--tokens-file", str(tokens_file))
        try:
            wait_until(lambda: server.log().count("access control on: 1 tokens") == 2,
                       timeout=30, what="both server processes to start")
            # A new connection each time, so the kernel spreads them over both processes.
            anonymous = [httpx.get(server.url + "/jobs").status_code for _ in range(20)]
            with_token = [httpx.get(server.url + "/jobs", headers={
                "Authorization": f"Bearer {token}"}).status_code for _ in range(20)]
        finally:
            server.stop()

    assert set(anonymous) == {401}
    assert set(with_token) == {200}
    assert token not in server.log()


# Client, command line and worker

def test_client_with_token(http: httpx.Client, guarded: GuardedServer) -> None:
    service_id, _ = new_service_and_job(http, guarded)

    with Client(guarded.url, token=guarded.tokens["submit"]) as submitter:
        job = submitter.submit(service_id, {"x": 1})
    with Client(guarded.url) as anonymous, pytest.raises(AuthenticationError) as missing:
        anonymous.get_job(job.id)
    with Client(guarded.url, token=guarded.tokens["read"]) as reader, \
            pytest.raises(PermissionDeniedError) as denied:
        reader.submit(service_id, {"x": 2})

    assert job.status == JobStatus.REGISTERED
    assert missing.value.status_code == 401
    assert "TOPCHEF_TOKEN" in str(missing.value)
    assert denied.value.status_code == 403
    assert "needs role submit" in str(denied.value)


def test_cli_with_token(guarded: GuardedServer) -> None:
    runner = CliRunner(env={"TOPCHEF_URL": guarded.url, "TOPCHEF_TOKEN": None})

    listed = runner.invoke(main, ["services", "list", "--token", guarded.tokens["read"]])
    from_variable = CliRunner(env={"TOPCHEF_URL": guarded.url,
                                   "TOPCHEF_TOKEN": guarded.tokens["read"]}).invoke(
        main, ["jobs", "list"])
    anonymous = runner.invoke(main, ["services", "list"])

    assert listed.exit_code == 0, listed.output
    assert from_variable.exit_code == 0, from_variable.output
    assert anonymous.exit_code == 1
    assert "401 Unauthorized" in anonymous.stderr
    assert "--token or TOPCHEF_TOKEN" in anonymous.stderr


def test_worker_with_token(guarded: GuardedServer, tmp_path: Path) -> None:
    name = f"auth-worker-{uuid.uuid4().hex[:8]}"
    with Client(guarded.url, token=guarded.tokens["admin"]) as admin:
        service = admin.create_service(name, description="", job_registration_schema=
                                       PARAMETERS_SCHEMA, job_result_schema=RESULTS_SCHEMA)
        job = admin.submit(service.id, {"value": 41})
    environment = {"TOPCHEF_E2E_SERVICE": name, "TOPCHEF_TOKEN": guarded.tokens["work"]}
    worker = start_worker(guarded.url, "tests.e2e.worker_apps:sleeper", tmp_path / "w.log",
                          env=environment)
    try:
        with Client(guarded.url, token=guarded.tokens["read"]) as reader:
            finished = reader.wait(job.id, timeout=30)
    finally:
        worker.stop()

    assert finished.status == JobStatus.COMPLETED
    assert finished.results == {"result": 42}
    assert guarded.tokens["work"] not in worker.log()


def test_worker_with_read_token_exits(guarded: GuardedServer, tmp_path: Path) -> None:
    name = f"auth-worker-{uuid.uuid4().hex[:8]}"
    with Client(guarded.url, token=guarded.tokens["admin"]) as admin:
        admin.create_service(name, description="", job_registration_schema=PARAMETERS_SCHEMA,
                             job_result_schema=RESULTS_SCHEMA)
    worker = start_worker(guarded.url, "tests.e2e.worker_apps:sleeper", tmp_path / "w.log",
                          "--token", guarded.tokens["read"], env={"TOPCHEF_E2E_SERVICE": name})

    exit_code = worker.wait()

    assert exit_code == 1
    assert "403 Forbidden" in worker.log()
    assert "needs role work" in worker.log()
