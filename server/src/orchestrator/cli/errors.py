"""What every command shares about failing: the exit status and the user's own words for a rule."""

from __future__ import annotations

from typing import Any

USER_ERROR = 2


class UserError(Exception):
    """A mistake the user can fix; printed as one line, never with a traceback."""


def in_our_words(error: Any, allowed: str | None = None) -> str:
    """A validation error as a rule the user can follow (``allowed`` names the whole range)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    bounds = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
    if allowed and kind in (*bounds, "string_too_short", "string_too_long"):
        return f"must be {allowed}"
    words = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_parsing": "must be true or false",
        "missing": "is required",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "string_too_short": f"must be at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"must be at most {ctx.get('max_length')} character(s)",
        "literal_error": f"must be one of {ctx.get('expected')}",
    }
    if kind in words:
        return words[kind]
    message = str(error.get("msg", "is not valid"))
    return message.replace("Input should be", "must be").replace("Value error, ", "")


def allowed_range(model: Any, field: str) -> str | None:
    """'from 1 to 10000' for a field with both bounds, read from the API's own schema."""
    info = model.model_fields.get(field)
    if info is None:
        return None

    def bound(name: str) -> Any:
        return next((getattr(m, name) for m in info.metadata if getattr(m, name, None) is not None), None)

    shortest, longest = bound("min_length"), bound("max_length")
    if shortest is not None and longest is not None:
        return f"{shortest} to {longest} characters"
    low, high = bound("ge"), bound("le")
    if low is None or high is None:
        return None

    def shown(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else str(value)

    return f"from {shown(low)} to {shown(high)}"
