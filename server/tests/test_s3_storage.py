"""Images and thumbnails in S3-compatible storage (a real S3 API: moto in server mode)."""

from __future__ import annotations

import io

import boto3
from conftest import _aws_kwargs
from PIL import Image

GEN = {"prompt": "a lighthouse at dusk", "model": "flux-schnell", "n": 2}


async def test_images_land_in_s3_and_download_through_response_urls(
    start_server, s3_endpoint, s3_bucket
) -> None:
    server = await start_server(
        storage_backend="s3",
        s3_bucket=s3_bucket,
        s3_prefix="imgs/",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )
    key = await server.create_key()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **_aws_kwargs())
    async with server.client(key) as api:
        job = (await api.post("/api/v1/generate", json=GEN)).json()
        assert job.get("status") == "succeeded", job
        stored = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
        # The two images; their thumbnails are made when first asked for (below).
        assert len(stored) == 2 and all(k.startswith("imgs/") and job["id"] in k for k in stored)
        assert not (server.settings.data_dir / "images").exists()  # nothing went to local disk
        for image in job["images"]:
            full = await api.get(image["url"])
            thumb = await api.get(image["thumbnail_url"])
            assert full.status_code == 200 and thumb.status_code == 200
            assert full.headers["content-type"] == "image/png"
            assert thumb.headers["content-type"] == "image/webp"
            # The bytes served are the object's bytes.
            key_in_bucket = next(k for k in stored if full.content == _get(s3, s3_bucket, k))
            assert key_in_bucket.endswith(".png")
            with Image.open(io.BytesIO(thumb.content)) as img:
                assert max(img.size) <= 256
        objects = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
        assert objects == stored | {k + ".thumb.webp" for k in stored}  # now stored, next to their image
        ready = await api.get("/readyz")
        assert ready.json()["checks"]["storage"] == "ok"
        # A forged signature is refused before storage is asked.
        url = job["images"][0]["url"]
        assert (await api.get(url[: url.rindex("sig=") + 4] + "AAAA")).status_code == 403


async def test_missing_bucket_makes_readyz_fail(start_server, s3_endpoint) -> None:
    server = await start_server(
        storage_backend="s3", s3_bucket="no-such-bucket", s3_endpoint_url=s3_endpoint, s3_region="us-east-1"
    )
    async with server.client() as anonymous:
        ready = await anonymous.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["storage"].startswith("error")


def _get(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
