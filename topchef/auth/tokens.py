"""Access tokens: roles, the tokens file, the TOPCHEF_TOKENS variable and the lookup.

The server stores only the SHA-256 digest of each token. A tokens file has one
token a line, ``ROLE NAME SHA256HEX``, with ``#`` comments and blank lines
allowed. TOPCHEF_TOKENS contains comma-separated entries ``ROLE:NAME:TOKEN`` (the
token in plain text, for containers whose environment is not written to disk)
or ``ROLE:NAME:sha256:HEX`` (the digest, as ``topchef serve --workers`` passes
the table to its server processes).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32
"""Random bytes in a new token; ``secrets.token_urlsafe`` encodes them as 43 characters."""
MAX_TOKEN_CHARS = 512
"""A presented token longer than this is invalid without being hashed."""
DIGEST_PREFIX = "sha256:"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")
"""The token68 syntax of RFC 6750 for bearer tokens."""


class Role(enum.StrEnum):
    """The permission level of a token; ``GRANTS`` lists which roles include which."""

    ADMIN = "admin"
    SUBMIT = "submit"
    WORK = "work"
    READ = "read"


GRANTS: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.SUBMIT: frozenset({Role.SUBMIT, Role.READ}),
    Role.WORK: frozenset({Role.WORK, Role.READ}),
    Role.READ: frozenset({Role.READ}),
}
"""The roles each role includes: admin does everything, submit and work each add to read."""


class TokenConfigError(ValueError):
    """A tokens file or TOPCHEF_TOKENS entry is invalid; the message names where."""


@dataclass(frozen=True, slots=True)
class Token:
    """One configured token: its role, a name for logs, and the SHA-256 digest of its value."""

    role: Role
    name: str
    digest: bytes

    def allows(self, required: Role) -> bool:
        return required in GRANTS[self.role]

    def file_line(self) -> str:
        return f"{self.role} {self.name} {self.digest.hex()}"


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    """Return a new random token of TOKEN_BYTES bytes, URL-safe base64 without padding."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_well_formed(token: str) -> bool:
    """Tell whether ``token`` has the bearer token syntax and at most MAX_TOKEN_CHARS."""
    return 0 < len(token) <= MAX_TOKEN_CHARS and _TOKEN.match(token) is not None


class TokenTable:
    """The configured tokens, looked up by the digest of a presented token in constant time."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = tuple(tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def find(self, presented: str) -> Token | None:
        """Return the token whose digest matches ``presented``, or None.

        Every entry is compared with ``hmac.compare_digest`` and the loop does not
        stop at a match, so the time taken does not tell which entry matched.
        """
        digest = digest_of(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.digest, digest):
                found = token
        return found


def _role(text: str, where: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(role.value for role in Role)
        raise TokenConfigError(f"{where}: unknown role {text!r}; use one of {roles}") from None


def check_name(name: str, where: str = "token name") -> str:
    """Return ``name`` if it is a valid token name, else raise TokenConfigError."""
    if _NAME.match(name) is None:
        raise TokenConfigError(
            f"{where}: invalid token name {name!r}; use 1 to 64 letters, digits, '.', '_', "
            "'@' or '-', starting with a letter or digit"
        )
    return name


def _digest_from_hex(text: str, where: str) -> bytes:
    if _HEX_DIGEST.match(text) is None:
        raise TokenConfigError(f"{where}: the digest must be 64 hexadecimal digits (SHA-256)")
    return bytes.fromhex(text)


def parse_tokens_file(text: str, source: str) -> list[Token]:
    """Read the lines ``ROLE NAME SHA256HEX`` of a tokens file; ``source`` names it in errors."""
    tokens = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        where = f"{source}, line {number}"
        fields = content.split()
        if len(fields) != 3:
            raise TokenConfigError(f"{where}: expected 'ROLE NAME SHA256HEX', got "
                                   f"{len(fields)} fields")
        role, name, hex_digest = fields
        tokens.append(Token(_role(role, where), check_name(name, where),
                            _digest_from_hex(hex_digest, where)))
    return tokens


def parse_tokens_variable(value: str, source: str = "TOPCHEF_TOKENS") -> list[Token]:
    """Read ``ROLE:NAME:TOKEN`` or ``ROLE:NAME:sha256:HEX`` entries separated by commas."""
    tokens = []
    for number, entry in enumerate(value.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        where = f"{source}, entry {number}"
        fields = entry.split(":", 2)
        if len(fields) != 3:
            raise TokenConfigError(f"{where}: expected 'ROLE:NAME:TOKEN'")
        role, name, secret = fields
        if secret.startswith(DIGEST_PREFIX):
            digest = _digest_from_hex(secret.removeprefix(DIGEST_PREFIX), where)
        elif is_well_formed(secret):
            digest = digest_of(secret)
        else:
            raise TokenConfigError(
                f"{where}: the token of {name!r} is empty, longer than {MAX_TOKEN_CHARS} "
                "characters or has characters other than letters, digits and -._~+/"
            )
        tokens.append(Token(_role(role, where), check_name(name, where), digest))
    return tokens


def tokens_variable(tokens: Iterable[Token]) -> str:
    """Write ``tokens`` as a TOPCHEF_TOKENS value that contains digests only."""
    return ",".join(f"{token.role}:{token.name}:{DIGEST_PREFIX}{token.digest.hex()}"
                    for token in tokens)


def check_unique(tokens: Iterable[Token]) -> tuple[Token, ...]:
    """Return ``tokens`` as a tuple, or raise if two share a name or a digest."""
    by_name: dict[str, Token] = {}
    digests: set[bytes] = set()
    for token in tokens:
        if token.name in by_name:
            raise TokenConfigError(f"token name {token.name!r} is configured twice; "
                                   "names must be unique because logs identify tokens by name")
        if token.digest in digests:
            raise TokenConfigError(f"token {token.name!r} has the same value as another token")
        by_name[token.name] = token
        digests.add(token.digest)
    return tuple(by_name.values())


def read_tokens_file(path: str | Path) -> list[Token]:
    """Read a tokens file; a missing or unreadable file raises TokenConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenConfigError(f"cannot read the tokens file {path}: {exc}") from exc
    return parse_tokens_file(text, str(path))


def load_tokens(*, tokens_file: str | None, tokens_variable_value: str | None) -> tuple[Token, ...]:
    """Read the tokens of the tokens file and of TOPCHEF_TOKENS together; either may be unset."""
    tokens: list[Token] = []
    if tokens_file:
        tokens.extend(read_tokens_file(tokens_file))
    if tokens_variable_value:
        tokens.extend(parse_tokens_variable(tokens_variable_value))
    return check_unique(tokens)
