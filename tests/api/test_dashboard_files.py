"""The dashboard's static files at /ui, served by the API process itself."""

from __future__ import annotations

import httpx


async def test_ui_redirects_to_index(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui")

    assert response.status_code == 308
    assert response.headers["location"] == "/ui/"


async def test_index_and_modules_served(client: httpx.AsyncClient) -> None:
    index = await client.get("/ui/")
    module = await client.get("/ui/js/app.js")
    styles = await client.get("/ui/style.css")

    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in index.text
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert styles.status_code == 200


async def test_unknown_ui_file_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/js/missing.js")

    assert response.status_code == 404


async def test_api_root_unchanged(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert set(response.json()) == {"data", "meta", "links"}
