"""``topchef tokens add`` and ``topchef tokens list`` on files in a temporary directory."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner, Result

from topchef.auth.tokens import digest_of, read_tokens_file
from topchef.cli import main


def tokens(*args: str) -> Result:
    return CliRunner(env={"TOPCHEF_TOKENS_FILE": None}).invoke(main, ["tokens", *args])


def test_add_writes_digest_only(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"

    result = tokens("add", "--role", "work", "--name", "rack-3", "--file", str(path))

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    [entry] = read_tokens_file(path)
    assert entry.name == "rack-3"
    assert entry.digest == digest_of(token)
    assert token not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_add_appends_to_existing(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    tokens("add", "--role", "admin", "--name", "alice", "--file", str(path))

    tokens("add", "--role", "read", "--name", "dashboard", "--file", str(path))
    listed = tokens("list", "--file", str(path))

    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == ["admin   alice", "read    dashboard"]


def test_add_rejects_duplicate_name(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    tokens("add", "--role", "admin", "--name", "alice", "--file", str(path))
    before = path.read_text()

    result = tokens("add", "--role", "read", "--name", "alice", "--file", str(path))

    assert result.exit_code == 1
    assert "'alice' is configured twice" in result.stderr
    assert result.stdout == ""
    assert path.read_text() == before


def test_add_rejects_invalid_name(tmp_path: Path) -> None:
    result = tokens("add", "--role", "admin", "--name", "two words", "--file",
                    str(tmp_path / "tokens.txt"))

    assert result.exit_code == 1
    assert "invalid token name 'two words'" in result.stderr
    assert not (tmp_path / "tokens.txt").exists()


def test_add_rejects_unknown_role(tmp_path: Path) -> None:
    result = tokens("add", "--role", "owner", "--name", "a", "--file", str(tmp_path / "t"))

    assert result.exit_code == 2
    assert "'owner' is not one of" in result.stderr


def test_list_missing_file(tmp_path: Path) -> None:
    result = tokens("list", "--file", str(tmp_path / "absent.txt"))

    assert result.exit_code == 1
    assert "cannot read the tokens file" in result.stderr


def test_list_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text("# no tokens yet\n")

    result = tokens("list", "--file", str(path))

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no tokens in" in result.stderr
