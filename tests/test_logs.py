"""The JSON log formatter and the log settings' round trip through the environment."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from topchef.config import Settings, settings_from_environment, settings_to_environment
from topchef.logs import JSONFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("topchef.test", logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_json_line_has_common_fields() -> None:
    line = JSONFormatter().format(record("job %s requeued", "abc"))

    entry = json.loads(line)

    assert entry["message"] == "job abc requeued"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "topchef.test"
    assert entry["time"].endswith("+00:00")
    assert "\n" not in line


def test_json_line_carries_extra_fields() -> None:
    entry = json.loads(JSONFormatter().format(record("GET /", status=200, duration_ms=1.5)))

    assert entry["status"] == 200
    assert entry["duration_ms"] == 1.5
    assert "args" not in entry
    assert "color_message" not in entry


def test_json_line_with_exception() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        failed = record("sweep failed")
        failed.exc_info = sys.exc_info()

    entry = json.loads(JSONFormatter().format(failed))

    assert "ValueError: bad value" in entry["exception"]


def test_log_settings_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(log_format="json", access_log=False)
    for name, value in settings_to_environment(settings).items():
        monkeypatch.setenv(name, value)

    rebuilt = settings_from_environment()

    assert rebuilt.log_format == "json"
    assert rebuilt.access_log is False


def test_unknown_log_format_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPCHEF_LOG_FORMAT", "xml")

    with pytest.raises(ValueError, match="TOPCHEF_LOG_FORMAT"):
        settings_from_environment()
