"""``/docs`` (Swagger UI) and ``/redoc`` with their assets served by the app itself, so the pages
work offline and behind firewalls. The assets come from the ``fastapi-offline`` package (MIT)."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS_PATH = "/docs-assets"
LOCAL_PATH = "/docs-local"
# ReDoc's bundle shows its "API docs by Redocly" logo from a CDN: the one external request of the
# page. Served with that URL pointing at a local, neutral mark instead (relative, so a root path
# prefix still works).
_REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_LOCAL_LOGO_NAME = "redoc-logo.svg"
_LOCAL_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#64748b"/>'
    b'<path d="M4 4h8v2H4zm0 3h8v2H4zm0 3h5v2H4z" fill="#fff"/></svg>'
)


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


@functools.cache
def _redoc_bundle() -> bytes:
    bundle = (_assets_dir() / "redoc.standalone.js").read_bytes()
    return bundle.replace(_REDOC_CDN_LOGO, f"{LOCAL_PATH.lstrip('/')}/{_LOCAL_LOGO_NAME}".encode())


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets; build the app with ``docs_url=redoc_url=None``."""
    install_security_scheme(app)
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(f"{LOCAL_PATH}/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(
            _redoc_bundle(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get(f"{LOCAL_PATH}/{_LOCAL_LOGO_NAME}", include_in_schema=False)
    async def redoc_logo() -> Response:
        return Response(
            _LOCAL_LOGO, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{LOCAL_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )


BEARER_SCHEME = "bearerAuth"
# Operations any caller may use without a key: health, signed image URLs (the signature is the auth).
_PUBLIC_PREFIXES = ("/api/v1/images/", "/healthz", "/readyz", "/livez", "/metrics")


def install_security_scheme(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document and require it on every authenticated
    operation, so `/docs` offers Authorize and SDK generators see how to authenticate."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`sk-test-…` or `sk-live-…`) or, when configured, a JWT. "
            "`X-API-Key: sk-…` works too. Reads need the `read` scope, generating and gallery "
            "changes `generate`, keys and webhooks `admin`.",
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(_PUBLIC_PREFIXES):
                continue
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation.setdefault("security", [{BEARER_SCHEME: []}])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
