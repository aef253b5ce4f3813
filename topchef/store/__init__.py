"""Persistence: one store interface, SQL for SQLite and PostgreSQL, Alembic migrations."""

from topchef.store.base import Store, StoreSession
from topchef.store.migrate import SchemaNotCurrent, check_current, upgrade
from topchef.store.sql import SQLStore, open_sql_store
from topchef.store.urls import DatabaseTarget, UnsupportedDatabaseURL, parse_database_url

__all__ = [
    "DatabaseTarget",
    "SQLStore",
    "SchemaNotCurrent",
    "Store",
    "StoreSession",
    "UnsupportedDatabaseURL",
    "check_current",
    "open_sql_store",
    "parse_database_url",
    "upgrade",
]
