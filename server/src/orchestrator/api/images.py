"""Stored images behind signed, expiring URLs (no auth header needed: the signature is the auth)."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from orchestrator.api.deps import ServicesDep
from orchestrator.api.presenters import IMAGE_ROUTE
from orchestrator.api.schemas import ErrorEnvelope
from orchestrator.errors import APIError, ErrorCode, NotFound, StorageUnavailable
from orchestrator.storage.base import StorageError

router = APIRouter(tags=["images"])

_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}


@router.get(
    # Keys always start with a shard directory, so names like /images/edits (the POST image
    # operations) are not image paths.
    "/images/{shard}/{rest:path}",
    operation_id="getImage",
    responses={
        200: {"content": {t: {} for t in _TYPES.values()}},
        **{code: {"model": ErrorEnvelope} for code in (403, 404, 422, 503)},
    },
)
async def get_image(
    shard: str,
    rest: str,
    services: ServicesDep,
    expires: Annotated[int, Query(description="Unix time the URL stops working.")],
    sig: Annotated[str, Query(max_length=64)],
) -> Response:
    key = f"{shard}/{rest}"
    if not services.signer.verify(IMAGE_ROUTE + key, expires, sig):
        raise APIError(
            "this image URL is invalid or has expired; fetch the generation again for a fresh one",
            code=ErrorCode.INVALID_SIGNATURE,
        )
    media_type = _TYPES.get(key.rsplit(".", 1)[-1])
    if media_type is None:
        raise NotFound("no such image")
    # Immutable content: cache until the URL itself expires.
    # nosniff: browsers must not second-guess the type of a file a provider produced.
    headers = {"Cache-Control": "private, max-age=3600, immutable", "X-Content-Type-Options": "nosniff"}
    path = services.storage.local_path(key)
    try:
        if path is not None and path.is_file():
            return FileResponse(path, media_type=media_type, headers=headers)
        if path is None:
            with contextlib.suppress(FileNotFoundError):
                return Response(await services.storage.get(key), media_type=media_type, headers=headers)
        # Thumbnails are made the first time they are asked for.
        thumbnail = await services.thumbnails.make(key)
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc
    if thumbnail is None:
        raise NotFound("no such image")
    return Response(thumbnail, media_type=media_type, headers=headers)
