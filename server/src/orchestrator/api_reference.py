"""``docs/api.md``: a human reference rendered from the OpenAPI document, so it cannot drift.

``orchestrator openapi --markdown`` prints it; a test fails when the committed file differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")
_TAG_TITLES = {
    "generation": "Generating",
    "generations": "History and jobs",
    "models": "Models",
    "usage": "Usage",
    "keys": "API keys",
    "webhooks": "Webhooks",
    "images": "Images",
    "openai-compatible": "OpenAI-compatible (`/v1`)",
    "health": "Operations",
}

HEADER = """# API reference

Generated from `openapi.json` by `make openapi` (`orchestrator openapi --markdown`); a test fails
when this page is stale. The interactive version, with every schema, is served at `/docs`.

Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`); each operation names the access it
needs. Every error is `{"error": {"type", "code", "message", "param", "request_id"}}`; the
errors a newcomer meets first are in [troubleshooting](troubleshooting.md).
"""


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def _type(document: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in schema:
        kinds = [_type(document, option) for option in schema["anyOf"] if option.get("type") != "null"]
        return " or ".join(kinds) or "null"
    if "enum" in schema:
        return " or ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {_type(document, schema.get('items', {}))}"
    return kind


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n", 1)[0].split())


def operation_scopes(app: Any) -> dict[str, str]:
    """operationId -> the API-key scope its route requires, read from the routes' dependencies."""
    from fastapi.routing import APIRoute

    def required(dependant: Any) -> str | None:
        for dependency in dependant.dependencies:
            found = getattr(dependency.call, "required_scope", None) or required(dependency)
            if found:
                return str(found)
        return None

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            included = getattr(route, "original_router", None)  # an included router's routes
            if included is not None:
                yield from walk(included.routes)

    scopes = {}
    for route in walk(app.routes):
        scope = required(route.dependant)
        if route.operation_id and scope:
            scopes[route.operation_id] = scope
    return scopes


_SPECIAL_ACCESS = {
    "metrics": "the metrics token (`ORCHESTRATOR_METRICS_TOKEN`) or a live key with the `admin` scope",
    "getImage": "none: the signed URL is the credential",
}


def _operation(
    document: dict[str, Any], scopes: dict[str, str], method: str, path: str, operation: dict[str, Any]
) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    summary = operation.get("summary")
    description = _first_paragraph(operation.get("description"))
    lines.append(f"**{summary}.** {description}".rstrip() if summary else description)
    operation_id = operation.get("operationId", "")
    scope = scopes.get(operation_id)
    access = f"a key with the `{scope}` scope" if scope else _SPECIAL_ACCESS.get(operation_id, "none")
    lines += ["", f"Access: {access}.", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for parameter in parameters:
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | "
                f"{_cell(_type(document, parameter.get('schema', {})))} | "
                f"{'yes' if parameter.get('required') else 'no'} | {_cell(parameter.get('description'))} |"
            )
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        schema = _schema(document, body)
        required = set(schema.get("required", []))
        name = str(body.get("$ref", "")).rsplit("/", 1)[-1] or "JSON"
        lines += [f"Body (`{name}`):", "", "| field | type | required | description |", "|---|---|---|---|"]
        for field, spec in schema.get("properties", {}).items():
            lines.append(
                f"| `{field}` | {_cell(_type(document, spec))} | {'yes' if field in required else 'no'} | "
                f"{_cell(spec.get('description'))} |"
            )
        lines.append("")
    answers: list[str] = []
    errors: list[str] = []
    for status, response in sorted(operation.get("responses", {}).items()):
        content: dict[str, Any] = response.get("content") or {}
        media: dict[str, Any] = next(iter(content.values()), {})
        shape = _type(document, media["schema"]) if "$ref" in media.get("schema", {}) else ""
        if shape in ("ErrorEnvelope", "HTTPValidationError") and status >= "400":
            errors.append(status)
        else:
            answers.append(f"{status} `{shape}`" if shape else status)
    line = "Answers: " + ", ".join(answers)
    if errors:
        line += "; errors (the error envelope): " + ", ".join(errors)
    lines += [line + ".", ""]
    return lines


def render_markdown(document: dict[str, Any], scopes: dict[str, str]) -> str:
    """The reference page for ``document`` (the app's OpenAPI document) and ``scopes`` (from
    :func:`operation_scopes`)."""
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHOD_ORDER:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append((method, path, item[method]))
    lines = [HEADER, "| operation | method & path |", "|---|---|"]
    order = [tag for tag in _TAG_TITLES if tag in groups] + sorted(set(groups) - set(_TAG_TITLES))
    for tag in order:
        for method, path, operation in groups[tag]:
            lines.append(f"| {_cell(operation.get('summary'))} | `{method.upper()} {path}` |")
    lines.append("")
    for tag in order:
        lines += [f"## {_TAG_TITLES.get(tag, tag.title())}", ""]
        for method, path, operation in groups[tag]:
            lines += _operation(document, scopes, method, path, operation)
    return "\n".join(lines).rstrip() + "\n"
