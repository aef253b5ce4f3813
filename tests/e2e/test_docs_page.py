"""/docs in headless Chromium: the page loads /openapi.json and renders every operation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
QUIET_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
)
"""Flags that keep the browser from contacting any host but the test server."""
RENDER_BUDGET_MS = 5000


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
def test_docs_page_renders_operations(server: ServerProcess, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    operation_count = sum(len(item) for item in document["paths"].values())

    dom = subprocess.run(
        [CHROMIUM, *QUIET_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--virtual-time-budget={RENDER_BUDGET_MS}", "--dump-dom", f"{server.url}/docs"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout

    assert dom.count('class="path"') == operation_count
    assert '<div id="operations">Could not load' not in dom
    assert f"TopChef {document['info']['version']}" in dom
