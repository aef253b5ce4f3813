from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from topchef.cli import main


def test_validate_missing_file_is_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "no.json"), "-"])

    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_validate_non_utf8_file_named(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_bytes(b"\xff\xfe{}")

    result = CliRunner().invoke(main, ["validate", str(schema), "-"], input="{}")

    assert result.exit_code != 0
    assert "schema.json is not UTF-8 text" in result.output


def test_delete_goes_on_after_failure() -> None:
    # Nothing listens on port 9 (discard), so each id fails on its own and all are tried.
    result = CliRunner().invoke(
        main, ["jobs", "delete", "a", "b", "--url", "http://127.0.0.1:9"]
    )

    assert result.exit_code == 1
    assert "failed for 2 ids: a, b" in result.output
