"""The web dashboard at /ui, driven in headless Chromium against a real server on SQLite.

Playwright drives the system's Chromium (/usr/bin/chromium) through
``executable_path``, so it needs no browser of its own: install the package with
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 and never run ``playwright install``.

Screenshots of the main pages go to the directory named by TOPCHEF_SCREENSHOTS,
or to a temporary directory of the test run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.test_auth import add_token, launch

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
FIXTURES = Path("/work/shared/fixtures")
EXAMPLE_SCHEMAS = Path(__file__).parents[2] / "examples" / "rabi"
UPDATE_TIMEOUT_MS = 10_000
"""How long the page may take to show a change made over HTTP."""
WIDE_WINDOW = {"width": 1280, "height": 900}
NARROW_WINDOW = {"width": 380, "height": 800}
BAD_TOKEN = "not-a-token-of-this-server"


def schema_file(name: str) -> dict[str, Any]:
    """Read a schema from the shared fixtures, else from the Rabi example that carries a copy."""
    path = FIXTURES / name if (FIXTURES / name).exists() else EXAMPLE_SCHEMAS / name
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("dashboard")
    server = start_server(f"sqlite:///{directory / 'topchef.db'}", directory / "server.log")
    yield server
    server.stop()


@pytest.fixture
def http(dashboard_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard_server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile directory, shared by the tests of this module."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package to run the "
                    "dashboard tests")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport=WIDE_WINDOW,
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    opened = browser.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory for screenshots: TOPCHEF_SCREENSHOTS, or a temporary one."""
    named = os.environ.get("TOPCHEF_SCREENSHOTS")
    directory = Path(named) if named else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def create_rabi_service(http: httpx.Client, name: str) -> str:
    body = {
        "name": name,
        "description": "Rabi and Ramsey sequences on a trapped ion, counted in photons",
        "job_registration_schema": schema_file("rabi-ramsey-experiment.schema.json"),
        "job_result_schema": schema_file("photon-count-result.schema.json"),
    }
    response = http.post("/services", json=body)
    assert response.status_code == 201, response.text
    service_id: str = response.json()["data"]["id"]
    return service_id


def submit_rabi(http: httpx.Client, service_id: str, pulse_time: float) -> str:
    parameters = {"type": "RABI", "pulse_time": pulse_time, "number_of_repetitions": 100}
    response = http.post(f"/services/{service_id}/jobs", json={"parameters": parameters})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def claim(http: httpx.Client, service_id: str) -> dict[str, Any]:
    response = http.post(f"/services/{service_id}/jobs/next", json={"worker": "lab-pc-1"})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def complete(http: httpx.Client, job: dict[str, Any]) -> None:
    results = {"light_count": 61, "dark_count": 39, "result_count": 100,
               "time_completed": datetime.now(UTC).isoformat()}
    body = {"status": "COMPLETED", "results": results, "lease": job["lease"]["token"]}
    response = http.patch(f"/jobs/{job['id']}", json=body)
    assert response.status_code == 200, response.text


def fail(http: httpx.Client, job: dict[str, Any]) -> None:
    body = {"lease": job["lease"]["token"], "error": "laser unlocked during the sequence"}
    response = http.post(f"/jobs/{job['id']}/fail", json=body)
    assert response.status_code == 200, response.text


def seed_service(http: httpx.Client, name: str) -> tuple[str, dict[str, Any]]:
    """Create a service with 2 COMPLETED, 1 ERROR, 1 WORKING and 2 REGISTERED jobs.

    Return the service id and the WORKING job with its lease.
    """
    service_id = create_rabi_service(http, name)
    for pulse_time in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        submit_rabi(http, service_id, pulse_time)
    complete(http, claim(http, service_id))
    complete(http, claim(http, service_id))
    fail(http, claim(http, service_id))
    working = claim(http, service_id)
    return service_id, working


def open_dashboard(page: Page, server: ServerProcess, route: str) -> None:
    page.goto(f"{server.url}/ui/#{route}")


def service_card(page: Page, service_id: str) -> Any:
    return page.locator(f'article[data-service-id="{service_id}"]')


def test_empty_server_says_what_to_do(page: Page, tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "server.log")
    try:
        open_dashboard(page, server, "/services")
        services_text = page.locator(".empty").inner_text()
        open_dashboard(page, server, "/jobs")
        expect(page.locator("h1")).to_have_text("Jobs")
        jobs_text = page.locator(".empty").inner_text()
    finally:
        server.stop()

    assert "No services yet" in services_text
    assert "topchef services create" in services_text
    assert "No jobs yet" in jobs_text
    assert "topchef jobs submit" in jobs_text


def test_stopped_server_shows_message(page: Page, tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'stopped.db'}", tmp_path / "server.log")
    try:
        open_dashboard(page, server, "/services")
        expect(page.locator("#live")).to_have_text("live")
    finally:
        server.stop()

    expect(page.locator("#live")).to_have_text("reconnecting", timeout=UPDATE_TIMEOUT_MS)
    page.click("nav a[data-page=jobs]")

    expect(page.locator("#notice")).to_contain_text("Connection Failed")
    expect(page.locator("#notice")).to_contain_text("check that the server is running")


def test_services_listed_with_counts(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client, screenshots: Path
) -> None:
    service_id, working = seed_service(http, "Rabi lab A")

    open_dashboard(page, dashboard_server, "/services")
    card = service_card(page, service_id)

    expect(card.locator("h2")).to_have_text("Rabi lab A")
    expect(card.locator(".badge")).to_have_text("alive")
    expect(card.locator('[data-status="REGISTERED"] strong')).to_have_text("2")
    expect(card.locator('[data-status="WORKING"] strong')).to_have_text("1")
    expect(card.locator('[data-status="COMPLETED"] strong')).to_have_text("2")
    expect(card.locator('[data-status="ERROR"] strong')).to_have_text("1")
    expect(card.locator(".throughput")).to_contain_text("2 completed in the last 5 min")
    expect(card.locator("svg.chart title")).to_contain_text("6 submitted and 2 completed")
    expect(page.locator("#live")).to_have_text("live")
    page.screenshot(path=screenshots / "services.png", full_page=True)

    complete(http, working)

    completed = card.locator('[data-status="COMPLETED"] strong')
    expect(completed).to_have_text("3", timeout=UPDATE_TIMEOUT_MS)
    expect(card.locator('[data-status="WORKING"] strong')).to_have_text("0")


def test_jobs_filtered_by_service_and_status(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client, screenshots: Path
) -> None:
    service_id, _ = seed_service(http, "Rabi lab B")
    other_id, _ = seed_service(http, "Ramsey lab")

    open_dashboard(page, dashboard_server, f"/jobs?service_id={service_id}")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(6)
    page.select_option("#filter-status", "COMPLETED")

    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index)).to_have_attribute("data-status", "COMPLETED")
    expect(page).to_have_url(re.compile(rf"#/jobs\?service_id={service_id}&status=COMPLETED$"))
    page.screenshot(path=screenshots / "jobs.png", full_page=True)

    page.select_option("#filter-service", other_id)
    expect(page.locator("h1")).to_contain_text("Ramsey lab")
    expect(rows).to_have_count(2)
    page.go_back()
    expect(page.locator("h1")).to_contain_text("Rabi lab B")


def test_jobs_newest_first_and_empty_state(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client
) -> None:
    service_id = create_rabi_service(http, "Ordering lab")
    first = submit_rabi(http, service_id, 0.1)
    last = submit_rabi(http, service_id, 0.2)

    open_dashboard(page, dashboard_server, f"/jobs?service_id={service_id}")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-job-id", last)
    expect(rows.nth(1)).to_have_attribute("data-job-id", first)

    page.select_option("#filter-status", "ERROR")
    expect(page.locator(".empty")).to_contain_text("No jobs match these filters")


def test_job_completes_while_page_open(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client, screenshots: Path
) -> None:
    service_id = create_rabi_service(http, "Live lab")
    job_id = submit_rabi(http, service_id, 0.25)
    job = claim(http, service_id)
    open_dashboard(page, dashboard_server, f"/jobs/{job_id}")
    expect(page.locator("h1 .badge")).to_have_text("WORKING")
    expect(page.locator("dl.facts")).to_contain_text("lab-pc-1")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.loadedOnce = true")

    complete(http, job)

    expect(page.locator("h1 .badge")).to_have_text("COMPLETED", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("pre.json").nth(1)).to_contain_text('"light_count": 61')
    assert page.evaluate("window.loadedOnce") is True
    page.screenshot(path=screenshots / "job.png", full_page=True)


def test_jobs_list_updates_live(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client
) -> None:
    service_id = create_rabi_service(http, "Live list lab")
    job_id = submit_rabi(http, service_id, 0.5)
    open_dashboard(page, dashboard_server, f"/jobs?service_id={service_id}")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_have_attribute("data-status", "REGISTERED")
    expect(page.locator("#live")).to_have_text("live")

    complete(http, claim(http, service_id))
    added = submit_rabi(http, service_id, 0.6)

    expect(row).to_have_attribute("data-status", "COMPLETED", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator(f'tr[data-job-id="{added}"]')).to_have_count(1)


PARSE_CHUNKS = """async (chunks) => {
    const { EventParser } = await import("./js/events.js");
    const seen = [];
    const parser = new EventParser((message) => seen.push(message));
    for (const chunk of chunks) parser.push(chunk);
    return seen;
}"""


def test_event_parser_joins_chunks(page: Page, dashboard_server: ServerProcess) -> None:
    open_dashboard(page, dashboard_server, "/services")
    chunks = [
        "retry: 1000\n\n: keep-alive\n\nid: 7\r",
        "\nevent: job.completed\r\ndata: {\"id\": 7,",
        " \"status\": \"COMPLETED\"}\r\n\r",
        "\nid: 8\nevent: reset\ndata: {}\n\n",
    ]

    messages = page.evaluate(PARSE_CHUNKS, chunks)

    assert messages == [
        {"id": "7", "event": "job.completed", "data": '{"id": 7, "status": "COMPLETED"}'},
        {"id": "8", "event": "reset", "data": "{}"},
    ]


def test_tokens_on_real_server(page: Page, tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    admin = add_token(tokens_file, "admin", "lab-admin")
    read = add_token(tokens_file, "read", "dashboard")
    server = launch(tmp_path / "server.log", "--database-url",
                    f"sqlite:///{tmp_path / 'tokens.db'}", "--tokens-file", str(tokens_file))
    try:
        with httpx.Client(base_url=server.url,
                          headers={"Authorization": f"Bearer {admin}"}) as http:
            service_id = create_rabi_service(http, "Token lab")

        open_dashboard(page, server, "/services")
        notice = page.locator("#notice")
        expect(notice).to_contain_text("The server needs an access token (401)")

        page.fill("#token", BAD_TOKEN)
        page.press("#token", "Enter")
        expect(notice).to_contain_text("The server rejected this access token (401)")
        expect(notice).to_contain_text("the bearer token is not valid on this server")

        page.fill("#token", read)
        page.press("#token", "Enter")
        expect(service_card(page, service_id)).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        page.click(f"#unavailable-{service_id}")
        expect(notice).to_contain_text("This token may not do that (403)")
        expect(notice).to_contain_text("needs role admin")
    finally:
        page.evaluate("sessionStorage.clear()")
        server.stop()


def test_missing_job_shows_not_found(page: Page, dashboard_server: ServerProcess) -> None:
    missing = "00000000-0000-4000-8000-000000000000"

    open_dashboard(page, dashboard_server, f"/jobs/{missing}")

    expect(page.locator("h1")).to_have_text("Job not found")
    expect(page.locator(".empty")).to_contain_text(missing)
    expect(page.locator("#notice")).to_be_hidden()


def test_retry_then_delete_failed_job(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client
) -> None:
    service_id = create_rabi_service(http, "Admin lab")
    job_id = submit_rabi(http, service_id, 0.75)
    fail(http, claim(http, service_id))
    open_dashboard(page, dashboard_server, f"/jobs/{job_id}")
    expect(page.locator("h1 .badge")).to_have_text("ERROR")
    expect(page.locator("pre.json.error")).to_contain_text("laser unlocked")

    page.click("#retry-job")

    expect(page.locator("h1 .badge")).to_have_text("REGISTERED")
    expect(page.locator("h2", has_text="Error of an earlier attempt")).to_be_visible()
    assert http.get(f"/jobs/{job_id}").json()["data"]["status"] == "REGISTERED"

    page.click("#delete-job")

    expect(page).to_have_url(re.compile(rf"#/jobs\?service_id={service_id}$"))
    expect(page.locator(".empty")).to_contain_text("No jobs match these filters")
    assert http.get(f"/jobs/{job_id}").status_code == 404


def test_mark_service_unavailable(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client
) -> None:
    service_id = create_rabi_service(http, "Retired lab")
    open_dashboard(page, dashboard_server, "/services")
    card = service_card(page, service_id)
    expect(card.locator(".badge")).to_have_text("alive")

    card.locator("button", has_text="Mark unavailable").click()

    expect(card.locator(".badge")).to_have_text(["timed out", "unavailable"])
    expect(card.locator("button", has_text="Mark unavailable")).to_have_count(0)
    service = http.get(f"/services/{service_id}").json()["data"]
    assert service["is_service_available"] is False
    assert service["has_timed_out"] is True


def test_delete_refused_shows_envelope(
    page: Page, dashboard_server: ServerProcess, http: httpx.Client
) -> None:
    service_id = create_rabi_service(http, "Refusal lab")
    job_id = submit_rabi(http, service_id, 0.9)
    open_dashboard(page, dashboard_server, f"/jobs/{job_id}")
    expect(page.locator("#delete-job")).to_be_visible()
    claim(http, service_id)

    page.click("#delete-job")

    expect(page.locator("#notice")).to_contain_text("Job Is Working")


def test_narrow_window_and_keyboard(
    browser: BrowserContext, dashboard_server: ServerProcess, http: httpx.Client,
    screenshots: Path,
) -> None:
    service_id, _ = seed_service(http, "Narrow lab")
    narrow = browser.new_page()
    narrow.set_viewport_size(NARROW_WINDOW)
    try:
        open_dashboard(narrow, dashboard_server, "/services")
        expect(service_card(narrow, service_id)).to_be_visible()
        width = narrow.evaluate("document.documentElement.scrollWidth")
        narrow.screenshot(path=screenshots / "services-narrow.png", full_page=True)

        link = service_card(narrow, service_id).locator("h2 a")
        link.focus()
        narrow.keyboard.press("Enter")
        expect(narrow.locator("table.jobs tbody tr")).to_have_count(6)
    finally:
        narrow.close()

    assert width <= NARROW_WINDOW["width"]


def test_docs_page_sends_token(page: Page, tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    read = add_token(tokens_file, "read", "docs-reader")
    server = launch(tmp_path / "server.log", "--database-url",
                    f"sqlite:///{tmp_path / 'docs.db'}", "--tokens-file", str(tokens_file))
    try:
        page.goto(f"{server.url}/docs")
        operation = page.locator("details.operation").filter(
            has=page.locator(".path", has_text=re.compile(r"^/services$"))
        ).filter(has=page.locator(".method.GET"))
        operation.locator(":scope > summary").click()
        result = operation.locator("form > pre")

        operation.get_by_role("button", name="Send").click()
        expect(result).to_contain_text("401")

        page.fill("#token", read)
        operation.get_by_role("button", name="Send").click()
        expect(result).to_contain_text("200")
    finally:
        page.evaluate("sessionStorage.clear()")
        server.stop()
