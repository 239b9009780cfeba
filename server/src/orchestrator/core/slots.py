"""The concurrency gate's name for a principal: one function, used by the gate, the lifecycle and
the repository that recounts active jobs (whose SQL returns the parts, not the name)."""

from __future__ import annotations


def principal_slot(project: str, subject: str | None, api_key_id: str | None = None) -> str:
    """``<project>/<subject>``: an API key id, or ``jwt:<sub>`` for bearer tokens.

    Jobs written before subjects were stored have only their key id, hence the fallback.
    """
    return f"{project}/{subject or api_key_id or ''}"
