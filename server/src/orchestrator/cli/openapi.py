"""``orchestrator openapi``: the API's OpenAPI document or its Markdown reference."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from orchestrator.cli.errors import UserError
from orchestrator.settings import Settings


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as generated from the app (committed as ``openapi.json``)."""
    from orchestrator.app import create_app

    return create_app(Settings(auto_migrate=False)).openapi()


def api_reference_markdown() -> str:
    """``docs/api.md``: the reference page rendered from the app's OpenAPI document."""
    from orchestrator.api_reference import operation_scopes, render_markdown
    from orchestrator.app import create_app

    app = create_app(Settings(auto_migrate=False))
    return render_markdown(app.openapi(), operation_scopes(app))


def cmd_openapi(args: argparse.Namespace) -> int:
    if args.markdown:
        text = api_reference_markdown()
    else:
        text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0
