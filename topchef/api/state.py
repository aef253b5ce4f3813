"""Access to the objects the application keeps for its lifetime."""

from __future__ import annotations

from starlette.requests import Request

from topchef.broker import Broker


def broker_of(request: Request) -> Broker:
    broker: Broker = request.app.state.broker
    return broker
