"""Images in S3-compatible object storage (AWS S3, MinIO, R2, moto…) through aiobotocore.

Credentials come from the standard AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, instance roles…); nothing S3-specific is stored in our settings but the bucket,
prefix, endpoint and region. Images are served through the API's signed ``/images/…`` URLs (see
docs/deployment.md for why), so the bucket stays private.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.storage.base import StorageError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}


class ObjectStorageError(StorageError):
    """The object store refused or could not be reached: a job answers 503 `storage_error`."""


class S3Storage:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        max_connections: int = 64,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._endpoint_url = endpoint_url
        self._region = region
        self._config = AioConfig(
            max_pool_connections=max_connections,
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        )
        self._stack = contextlib.AsyncExitStack()
        self._client: S3Client | None = None

    async def start(self) -> None:
        """Open the client (one connection pool for the process's lifetime)."""
        session = get_session()
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "s3", endpoint_url=self._endpoint_url, region_name=self._region, config=self._config
            )
        )

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Storage.start() was not awaited")
        return self._client

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError("storage key escapes the storage root")
        return self.prefix + key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        # A PUT is atomic in S3: readers see the previous object or the whole new one.
        try:
            await self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStorageError(f"object storage refused the write: {_describe(exc)}") from exc

    async def get(self, key: str) -> bytes:
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            async with response["Body"] as body:
                data: bytes = await body.read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise FileNotFoundError(key) from exc
            raise ObjectStorageError(f"object storage refused the read: {_describe(exc)}") from exc
        except BotoCoreError as exc:
            raise ObjectStorageError(f"object storage unreachable: {_describe(exc)}") from exc
        return data

    def local_path(self, key: str) -> Path | None:
        return None

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStorageError(f"object storage refused the delete: {_describe(exc)}") from exc

    async def check(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)


def _error_code(exc: ClientError) -> str:
    error: Any = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def _describe(exc: ClientError | BotoCoreError) -> str:
    # The error code only: messages can echo request details we do not want in logs or answers.
    return _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
