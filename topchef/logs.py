"""Server log output: plain text lines, or one JSON object per line.

``--log-format json`` (``TOPCHEF_LOG_FORMAT=json``) switches every log line of
the server to JSON, uvicorn's own lines included. Each object has ``time``,
``level``, ``logger`` and ``message``, plus the fields a line passed in
``extra`` (the request log passes method, path, status and duration_ms).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "color_message", "taskName",
}
"""LogRecord attributes that are not fields of a line; ``color_message`` is uvicorn's copy
of the message with terminal colours."""


class JSONFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JSONFormatter()
    return logging.Formatter(TEXT_FORMAT)


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """Return a ``logging.config.dictConfig`` setup that uvicorn applies in every process."""
    formatter: dict[str, Any] = (
        {"()": JSONFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # Alembic logs every context it opens, and our own migration lines report what changed.
        "loggers": {"alembic": {"level": "WARNING"}},
    }


def apply_log_format(log_format: str) -> None:
    """Give every handler of every logger configured so far the formatter of ``log_format``.

    Under ``uvicorn --factory`` this switches uvicorn's own handlers too.
    """
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]
    for logger in loggers:
        for handler in logger.handlers:
            handler.setFormatter(make_formatter(log_format))
