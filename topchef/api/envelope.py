"""Response envelopes: ``{data, meta, links}`` for success, ``{errors: [...]}`` for failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

from topchef.broker.errors import Problem


class JSONResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, self.media_type, background)

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(
    data: Any,
    *,
    self_url: str,
    meta: Any = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"data": data}
    if meta is not None:
        body["meta"] = meta
    body["links"] = {"self": self_url, **(links or {})}
    return JSONResponse(body, status_code=status_code, headers=headers)


def failure(
    status_code: int,
    problems: Iterable[Problem],
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    entries = [
        {"status_code": status_code, "title": problem.title, "detail": problem.detail}
        for problem in problems
    ]
    return JSONResponse({"errors": entries}, status_code=status_code, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
