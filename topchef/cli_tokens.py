"""``topchef tokens``: create access tokens and list them, and the tokens options of ``serve``.

A tokens file stores each token's SHA-256 digest, never the token; ``tokens add``
prints the new token once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from topchef.auth import Role, Token, TokenConfigError, is_loopback_host, load_tokens
from topchef.auth.tokens import (
    check_name,
    check_unique,
    digest_of,
    new_token,
    read_tokens_file,
)

log = logging.getLogger("topchef.cli")

TOKENS_FILE_MODE = 0o600
FILE_HEADER = ("# TopChef access tokens: ROLE NAME SHA256HEX, one token a line.\n"
               "# Written by 'topchef tokens add'; delete a line to revoke that token.\n")
ALLOW_UNAUTHENTICATED = "--allow-unauthenticated"

tokens_file_option = click.option(
    "--file", "tokens_file", envvar="TOPCHEF_TOKENS_FILE", show_envvar=True, required=True,
    type=click.Path(dir_okay=False), help="The tokens file (lines ROLE NAME SHA256HEX).",
)


@click.group()
def tokens() -> None:
    """Create and list the access tokens a server accepts."""


@tokens.command("add")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]),
              help="What the token may do: admin everything, submit create and delete jobs, "
              "work claim and finish jobs, read only read.")
@click.option("--name", required=True,
              help="Who or what uses the token; server logs show this name, never the token.")
@tokens_file_option
def tokens_add(role: str, name: str, tokens_file: str) -> None:
    """Create a token, append its digest to the tokens file and print the token once."""
    path = Path(tokens_file)
    existing = read_tokens_file(path) if path.exists() else []
    token = new_token()
    entry = Token(Role(role), check_name(name), digest_of(token))
    check_unique([*existing, entry])

    _append_line(path, entry.file_line())
    click.echo(token)
    click.echo(f"added token {name!r} with role {role} to {path}; this is the only time the "
               "token is shown, so store it now. A running server reads the file at start.",
               err=True)


def _append_line(path: Path, line: str) -> None:
    """Append ``line``, creating the file readable by its owner only if it does not exist."""
    created = not path.exists()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, TOKENS_FILE_MODE)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        if created:
            file.write(FILE_HEADER)
        file.write(line + "\n")


@tokens.command("list")
@tokens_file_option
def tokens_list(tokens_file: str) -> None:
    """Print the role and name of every token in the tokens file."""
    entries = read_tokens_file(tokens_file)
    for token in entries:
        click.echo(f"{token.role.value:<7} {token.name}")
    if not entries:
        click.echo(f"no tokens in {tokens_file}", err=True)


def server_tokens(tokens_file: str | None) -> tuple[Token, ...]:
    """Read the tokens ``topchef serve`` accepts from the file and TOPCHEF_TOKENS."""
    try:
        return load_tokens(tokens_file=tokens_file,
                           tokens_variable_value=os.environ.get("TOPCHEF_TOKENS"))
    except TokenConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def check_binding(host: str, *, tokens: tuple[Token, ...], allow_unauthenticated: bool) -> None:
    """Reject a non-loopback address without tokens unless the server may run open."""
    if tokens or is_loopback_host(host):
        return
    if not allow_unauthenticated:
        raise click.ClickException(
            f"will not listen on {host} without access tokens, because anyone who can "
            "reach it could change every service and job; configure tokens with "
            f"--tokens-file or TOPCHEF_TOKENS, listen on 127.0.0.1, or pass "
            f"{ALLOW_UNAUTHENTICATED} to run open (the classic Java and MATLAB clients "
            "cannot send tokens)"
        )
    log.warning("NO ACCESS CONTROL: listening on %s without access tokens, so anyone who can "
                "reach this address can create, change and delete every service and job "
                "(started with %s)", host, ALLOW_UNAUTHENTICATED)
