"""GET /dashboard and its assets, behind a Content-Security-Policy that forbids inline script."""

from __future__ import annotations

import functools
from importlib import resources
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import Response

from orchestrator.api.deps import ServicesDep
from orchestrator.errors import NotFound

router = APIRouter(include_in_schema=False)

_ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@functools.cache
def _read(name: str) -> bytes:
    return (resources.files("orchestrator.dashboard") / "static" / name).read_bytes()


def content_security_policy(image_origin: str | None) -> str:
    """Only our own scripts, styles and API; images also from the public image origin, if any."""
    images = "'self' data:" + (f" {image_origin}" if image_origin else "")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/dashboard")
async def dashboard(services: ServicesDep) -> Response:
    headers = {
        **_SECURITY_HEADERS,
        "Content-Security-Policy": content_security_policy(_origin(services.settings.public_base_url)),
    }
    return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=headers)


@router.get("/dashboard/static/{name}")
async def dashboard_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no dashboard asset named {name!r}")
    return Response(_read(name), media_type=media_type, headers=_SECURITY_HEADERS)
