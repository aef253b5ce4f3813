"""Tokens files, the TOPCHEF_TOKENS variable, the digest lookup and the binding rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from topchef.auth import Role, Token, TokenConfigError, TokenTable, is_loopback_host, load_tokens
from topchef.auth.tokens import (
    MAX_TOKEN_CHARS,
    check_unique,
    digest_of,
    is_well_formed,
    new_token,
    parse_tokens_file,
    parse_tokens_variable,
    tokens_variable,
)

ALICE_TOKEN = "alice-secret-token"
ALICE_HEX = hashlib.sha256(ALICE_TOKEN.encode()).hexdigest()


def test_file_lines_parse() -> None:
    text = f"""
# comment line
admin alice {ALICE_HEX}   # trailing comment

read  rob   {"ab" * 32}
"""
    tokens = parse_tokens_file(text, "tokens.txt")

    assert [(token.role, token.name) for token in tokens] == [(Role.ADMIN, "alice"),
                                                             (Role.READ, "rob")]
    assert tokens[0].digest == hashlib.sha256(ALICE_TOKEN.encode()).digest()


def test_file_line_round_trips() -> None:
    token = Token(Role.WORK, "worker-1", digest_of("x"))

    assert parse_tokens_file(token.file_line(), "f") == [token]


@pytest.mark.parametrize(("line", "message"), [
    (f"owner alice {ALICE_HEX}", "unknown role 'owner'"),
    ("admin alice", "expected 'ROLE NAME SHA256HEX', got 2 fields"),
    (f"admin alice {ALICE_HEX} extra", "got 4 fields"),
    ("admin alice 1234", "64 hexadecimal digits"),
    (f"admin alice {ALICE_HEX[:-1]}z", "64 hexadecimal digits"),
    (f"admin -alice {ALICE_HEX}", "invalid token name '-alice'"),
    (f"admin {'n' * 65} {ALICE_HEX}", "invalid token name"),
])
def test_file_errors_name_line(line: str, message: str) -> None:
    with pytest.raises(TokenConfigError) as caught:
        parse_tokens_file(f"# header\n{line}\n", "tokens.txt")

    assert "tokens.txt, line 2" in str(caught.value)
    assert message in str(caught.value)


def test_variable_plain_and_digest() -> None:
    value = f"admin:alice:{ALICE_TOKEN}, read:rob:sha256:{'cd' * 32},"

    tokens = parse_tokens_variable(value)

    assert tokens[0] == Token(Role.ADMIN, "alice", digest_of(ALICE_TOKEN))
    assert tokens[1] == Token(Role.READ, "rob", bytes.fromhex("cd" * 32))


@pytest.mark.parametrize(("value", "message"), [
    ("admin:alice", "expected 'ROLE:NAME:TOKEN'"),
    ("root:alice:abc", "unknown role 'root'"),
    ("admin:alice:", "the token of 'alice' is empty"),
    ("admin:alice:has space", "the token of 'alice'"),
    ("admin:alice:sha256:xyz", "64 hexadecimal digits"),
    (f"admin:alice:{'a' * (MAX_TOKEN_CHARS + 1)}", "longer than"),
])
def test_variable_errors_name_entry(value: str, message: str) -> None:
    with pytest.raises(TokenConfigError) as caught:
        parse_tokens_variable(f"read:rob:robtoken,{value}")

    assert "TOPCHEF_TOKENS, entry 2" in str(caught.value)
    assert message in str(caught.value)


def test_variable_keeps_digests_only() -> None:
    tokens = parse_tokens_variable(f"admin:alice:{ALICE_TOKEN},work:w:sha256:{'ef' * 32}")

    value = tokens_variable(tokens)

    assert ALICE_TOKEN not in value
    assert parse_tokens_variable(value) == tokens


def test_duplicate_name_rejected() -> None:
    tokens = [Token(Role.ADMIN, "alice", digest_of("a")), Token(Role.READ, "alice", digest_of("b"))]

    with pytest.raises(TokenConfigError, match="'alice' is configured twice"):
        check_unique(tokens)


def test_duplicate_value_rejected() -> None:
    tokens = [Token(Role.ADMIN, "alice", digest_of("a")), Token(Role.READ, "rob", digest_of("a"))]

    with pytest.raises(TokenConfigError, match="same value"):
        check_unique(tokens)


def test_load_combines_file_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text(f"admin alice {ALICE_HEX}\n")

    tokens = load_tokens(tokens_file=str(path), tokens_variable_value="read:rob:robtoken")

    assert [token.name for token in tokens] == ["alice", "rob"]


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TokenConfigError, match="cannot read the tokens file"):
        load_tokens(tokens_file=str(tmp_path / "absent.txt"), tokens_variable_value=None)


def test_load_nothing_configured() -> None:
    assert load_tokens(tokens_file=None, tokens_variable_value="") == ()


def test_table_finds_by_digest() -> None:
    alice = Token(Role.ADMIN, "alice", digest_of(ALICE_TOKEN))
    rob = Token(Role.READ, "rob", digest_of("robtoken"))
    table = TokenTable([alice, rob])

    assert table.find(ALICE_TOKEN) is alice
    assert table.find("robtoken") is rob
    assert table.find("robtoken ") is None
    assert table.find("") is None
    assert not TokenTable([])


def test_new_tokens_are_distinct_and_well_formed() -> None:
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(is_well_formed(token) and len(token) == 43 for token in tokens)


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.ADMIN, {Role.ADMIN, Role.SUBMIT, Role.WORK, Role.READ}),
    (Role.SUBMIT, {Role.SUBMIT, Role.READ}),
    (Role.WORK, {Role.WORK, Role.READ}),
    (Role.READ, {Role.READ}),
])
def test_role_grants(role: Role, allowed: set[Role]) -> None:
    token = Token(role, "t", digest_of("t"))

    assert {required for required in Role if token.allows(required)} == allowed


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True),
    ("127.8.9.10", True),
    ("localhost", True),
    ("LOCALHOST", True),
    ("::1", True),
    ("[::1]", True),
    ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False),
    ("::", False),
    ("", False),
    ("192.168.1.5", False),
    ("128.0.0.1", False),
    ("example.org", False),
    ("localhost.example.org", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
