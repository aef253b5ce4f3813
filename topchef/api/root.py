"""API metadata at ``/`` and the schema validator at ``/validator``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import topchef
from topchef.api import schemas
from topchef.api.envelope import success
from topchef.api.requests import check_body, required_json_object
from topchef.api.state import broker_of
from topchef.config import Settings

DOCUMENTATION_URL = "https://topchef.readthedocs.io"
SOURCE_CODE_REPOSITORY_URL = "https://github.com/MichalKononenko/TopChef"


async def api_metadata(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    data = {
        "maintainer_name": settings.maintainer_name,
        "maintainer_email": settings.maintainer_email,
        "documentation_url": DOCUMENTATION_URL,
        "source_code_repository_url": SOURCE_CODE_REPOSITORY_URL,
        "version": topchef.__version__,
    }
    return success(data, self_url=str(request.url), meta={"schema": schemas.API_METADATA_SCHEMA})


async def describe_validator(request: Request) -> Response:
    return success(
        {},
        self_url=str(request.url),
        meta={"validator_schema": schemas.VALIDATOR_REQUEST_SCHEMA},
    )


async def validate(request: Request) -> Response:
    body = await required_json_object(request)
    check_body(body, schemas.VALIDATOR_REQUEST)

    broker_of(request).validate(body["schema"], body["object"])
    return success({"status": "Validation was successful"}, self_url=str(request.url))
