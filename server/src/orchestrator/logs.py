"""Logging: one format for our lines and uvicorn's, an access line per request, job lifecycle lines.

Code logs through the standard library (``logging.getLogger(__name__)``, fields as ``extra=``);
structlog only renders (timestamp, level, logger, fields) as console text or JSON. Nothing here
runs at import time: ``configure_logging`` is called by the ``orchestrator`` command (and tests).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import structlog

FORMATS = ("console", "json")

if TYPE_CHECKING:  # the listener's argument type only: generation imports this module
    from orchestrator.generation.events import JobEvent

access_logger = logging.getLogger("orchestrator.access")
jobs_logger = logging.getLogger("orchestrator.jobs")

# The per-request log fields (the middleware's state dict) while a request is being handled, so
# code deep in a request (e.g. job submission) can add the generation id to its access line.
_request: ContextVar[dict[str, Any] | None] = ContextVar("orchestrator_request", default=None)


def _add_request_id(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    state = _request.get()
    if state is not None and "request_id" not in event:
        event["request_id"] = state.get("request_id")
    return event


def _drop_noise(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's coloured duplicate of the message
    return event


def _drop_empty(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Console lines leave out empty fields; JSON keeps every key, for queries."""
    return {k: v for k, v in event.items() if v is not None}


def formatter(fmt: str, *, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every line: ISO UTC timestamp, level, logger, message, fields."""
    pre_chain: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_noise,
        _add_request_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    processors: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors += [_drop_empty, structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False)]
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=pre_chain, processors=processors)


def configure_logging(level: str = "info", fmt: str | None = None, *, capture_warnings: bool = True) -> None:
    """Send every logger (ours, uvicorn's, libraries') to stderr in one format.

    ``fmt`` is ``console`` or ``json``; unset means console on a terminal, JSON otherwise (log
    collectors read JSON; people read the console). uvicorn's own access log is switched off:
    ours (``orchestrator.access``) replaces it.
    """
    tty = sys.stderr.isatty()
    chosen = fmt or ("console" if tty else "json")
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(chosen, colors=tty and chosen == "console"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_orchestrator", False):
            root.removeHandler(old)
    handler._orchestrator = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every start
    # httpx logs every URL it fetches at INFO: provider result URLs carry their own signatures.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if capture_warnings:
        logging.captureWarnings(True)  # warnings get a time and a level too


def begin_request(state: dict[str, Any]) -> object:
    """Make ``state`` the current request's log fields; returns a token for ``end_request``."""
    return _request.set(state)


def end_request(token: object) -> None:
    _request.reset(token)  # type: ignore[arg-type]


def note_generation(generation_id: str) -> None:
    """Record the generation the current request created (shown in its access line)."""
    state = _request.get()
    if state is not None:
        state["generation_id"] = generation_id


def log_submitted(generation_id: str, model: str, key_id: str | None) -> None:
    """The ``job submitted`` line, and the generation id for the request's access line."""
    note_generation(generation_id)
    if jobs_logger.isEnabledFor(logging.INFO):
        jobs_logger.info(
            "job submitted", extra={"generation_id": generation_id, "model": model, "key_id": key_id}
        )


class JobLifecycleLog:
    """An ``EventHub`` listener: one INFO line per lifecycle step (started, succeeded, failed,
    canceled, lost). Progress events are not logged; a job's first ``running`` event is its start.
    """

    def __init__(self) -> None:
        self._started: set[str] = set()

    def __call__(self, event: JobEvent) -> None:
        if event.status == "running":
            if event.generation_id in self._started:
                return
            if len(self._started) > 100_000:  # jobs lost without a terminal event here
                self._started.clear()
            self._started.add(event.generation_id)
            jobs_logger.info("job started", extra={"generation_id": event.generation_id})
            return
        self._started.discard(event.generation_id)
        if not jobs_logger.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {"generation_id": event.generation_id}
        job = event.generation
        if job is not None:
            fields.update(model=job.model, provider=job.provider)
            if job.status == "succeeded":
                fields["cost_micros"] = job.cost_micros
            elif job.error_code:
                fields["code"] = job.error_code
        jobs_logger.info(f"job {event.status}", extra=fields)
