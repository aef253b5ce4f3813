"""The readiness check: the database responds and its schema is current."""

from __future__ import annotations

import asyncio
import functools

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from topchef.store.migrate import head_revision

READY_TIMEOUT_SECONDS = 5.0
"""A database that has not responded to the check within this time counts as unreachable."""


@functools.cache
def _expected_revision() -> str | None:
    return head_revision()


async def check_schema_ready(engine: AsyncEngine, description: str) -> str | None:
    """Read the schema revision through ``engine``; return why it is not ready, or None."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except TimeoutError:
        return f"the database ({description}) did not answer within {READY_TIMEOUT_SECONDS:g} s"
    except (sa.exc.DBAPIError, OSError) as exc:
        original = getattr(exc, "orig", None) or exc
        reason = str(original).strip().splitlines()[0] if str(original).strip() else repr(exc)
        return f"cannot reach the database ({description}): {reason}"

    expected = _expected_revision()
    if current != expected:
        return (f"the database schema is at revision {current or 'none'}, this TopChef needs "
                f"{expected}; run: topchef db upgrade")
    return None
