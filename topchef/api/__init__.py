"""HTTP only: routes, request parsing, envelopes, errors, method override."""

from topchef.api.app import create_app, create_app_from_environment

__all__ = ["create_app", "create_app_from_environment"]
