"""The OpenAPI document at ``/openapi.json`` and the page at ``/docs`` that renders it.

The page is our own small HTML file with inline script and style, so it needs
nothing from another host (the Swagger UI that PyPI packages ship, version
4.15.5 in swagger-ui-bundle 1.1.0, cannot render OpenAPI 3.1).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from topchef.api.envelope import JSONResponse
from topchef.api.openapi import build_document, is_served
from topchef.api.openapi_operations import OPERATIONS


@functools.cache
def _docs_html() -> str:
    return resources.files("topchef.api").joinpath("docs.html").read_text(encoding="utf-8")


def served_document(routes: Any) -> dict[str, Any]:
    """Return the OpenAPI document of the operations that ``routes`` serve."""
    return build_document(operation for operation in OPERATIONS if is_served(operation, routes))


async def openapi_document(request: Request) -> Response:
    document = getattr(request.app.state, "openapi_document", None)
    if document is None:
        document = served_document(request.app.routes)
        request.app.state.openapi_document = document
    return JSONResponse(document)


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_docs_html())
