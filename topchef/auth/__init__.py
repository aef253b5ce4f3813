"""Access control that does not depend on HTTP: tokens, roles and the binding rule."""

from topchef.auth.binding import is_loopback_host
from topchef.auth.tokens import (
    GRANTS,
    Role,
    Token,
    TokenConfigError,
    TokenTable,
    load_tokens,
)

__all__ = [
    "GRANTS",
    "Role",
    "Token",
    "TokenConfigError",
    "TokenTable",
    "is_loopback_host",
    "load_tokens",
]
