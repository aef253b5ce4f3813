"""Fixtures shared by every test room: databases on both stores and a served app.

PostgreSQL tests use the server named by TOPCHEF_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), each test in a schema of its own
that is dropped afterwards. Where no server responds they are skipped with the
reason.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from topchef.api import create_app
from topchef.config import Settings

POSTGRES_URL = os.environ.get(
    "TOPCHEF_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
STORES = ("sqlite", "postgresql")


def _postgres_unreachable_reason() -> str | None:
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                              connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        return f"no PostgreSQL server at {POSTGRES_URL}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


_postgres_reason: list[str | None] = []


def postgres_skip_reason() -> str | None:
    if not _postgres_reason:
        _postgres_reason.append(_postgres_unreachable_reason())
    return _postgres_reason[0]


@contextlib.contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """Yield a database URL whose search_path is a new schema; drop the schema afterwards."""
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)

    schema = f"topchef_test_{uuid.uuid4().hex[:12]}"
    # No pool: a test may restart the database, and teardown must not reuse a dead connection.
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                             poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped after the test."""
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'topchef.db'}"


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once for each store."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of an app on a fresh database, its lifespan running."""
    app = create_app(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client,
    ):
        yield test_client
