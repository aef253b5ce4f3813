"""The web dashboard: static files served at ``/ui``, fed only by the public HTTP API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

DASHBOARD_PATH = "/ui"
ROUTE_NAME = "ui"


async def _redirect_to_index(request: Request) -> Response:
    return RedirectResponse(f"{DASHBOARD_PATH}/", status_code=308)


def dashboard_routes() -> list[BaseRoute]:
    """Return the routes that serve the dashboard's files, both named ``ui``.

    ``/ui`` redirects to ``/ui/``, so that the page's relative links resolve
    under ``/ui/``; a route of its own keeps the redirect under the same name.
    """
    files = StaticFiles(packages=[("topchef.ui", "static")], html=True)
    return [
        Route(DASHBOARD_PATH, _redirect_to_index, methods=["GET"], name=ROUTE_NAME),
        Mount(DASHBOARD_PATH, app=files, name=ROUTE_NAME),
    ]
