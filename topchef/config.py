"""Server settings and where they come from."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DATABASE_URL = "sqlite:///topchef.db"
DEFAULT_MAINTAINER_NAME = "TopChef administrator"

DATABASE_URL_VARIABLES = ("TOPCHEF_DATABASE_URL", "DATABASE_URI")
"""Environment variables that set the database URL, first one set wins.
DATABASE_URI is what deployments of the original TopChef used."""


def database_url_from_environment() -> str:
    for name in DATABASE_URL_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    maintainer_name: str = DEFAULT_MAINTAINER_NAME
    """Who runs this server, as ``GET /`` reports it."""
    maintainer_email: str = ""
    lease_sweep_seconds: float = 1.0
    """How often the server looks for expired leases."""
    migrate_on_start: bool = True
    """Run the Alembic migrations before serving; turn off where they run separately."""


def settings_from_environment() -> Settings:
    """Read the settings ``topchef serve`` also takes from TOPCHEF_* variables."""
    migrate = os.environ.get("TOPCHEF_MIGRATE", "true").strip().lower()
    return Settings(
        database_url=database_url_from_environment(),
        maintainer_name=os.environ.get("TOPCHEF_MAINTAINER_NAME", DEFAULT_MAINTAINER_NAME),
        maintainer_email=os.environ.get("TOPCHEF_MAINTAINER_EMAIL", ""),
        migrate_on_start=migrate not in ("false", "0", "no", "off"),
    )
