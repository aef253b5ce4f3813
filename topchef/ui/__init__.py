"""The web dashboard: static files served at ``/ui``, fed only by the public HTTP API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

DASHBOARD_PATH = "/ui"


def dashboard_routes() -> list[BaseRoute]:
    """Return the route that serves the dashboard's files; ``/ui`` redirects to ``/ui/``."""
    files = StaticFiles(packages=[("topchef.ui", "static")], html=True)
    return [Mount(DASHBOARD_PATH, app=files, name="ui")]
