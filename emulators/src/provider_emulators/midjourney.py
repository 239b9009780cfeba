"""Loopback emulator of a ``novicezk/midjourney-proxy`` deployment (servlet context path ``/mj``).

Wire format (providers.md §5): ``POST /mj/submit/imagine`` always answers HTTP 200 with a
``code`` (1 ok, 22 queued, 23 queue full, 24 banned prompt, 4 validation, 9 system failure) and
the task id in ``result``; ``GET /mj/task/{id}/fetch`` returns the task (``NOT_START`` →
``SUBMITTED`` → ``IN_PROGRESS`` with ``progress: "45%"`` and a preview ``imageUrl`` → ``SUCCESS``
with the 2×2 grid in ``imageUrl``, or ``FAILURE`` with ``failReason``); an unknown id gives HTTP
200 with an empty body. With a secret configured (``state.api_key``; ``None`` = the proxy runs
without ``mj.api-secret``) a missing or wrong ``mj-api-secret`` header is HTTP 401, empty body.

The prompt's ``--ar W:H`` picks the grid size (each tile at Midjourney's size for that ratio, the
grid twice that); an unparsable ``--ar`` fails the task the way Midjourney's error embed does.

Faults: ``refuse`` → submit ``code: 24`` (banned prompt); prompts containing a word from
:attr:`MidjourneyState.banned_words` always are. ``rate_limit``/``server_errors`` answer as the
HTTP layer in front of the proxy would (429 with ``Retry-After``; Spring Boot's 5xx JSON);
:attr:`MidjourneyState.queue_full` and :attr:`MidjourneyState.queued` drive codes 23 and 22.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provider_emulators._common import (
    EmulatorState,
    FaultResponses,
    apply_faults,
    control_routes,
    make_image,
    malformed_json,
    record_request,
)

DEFAULT_API_KEY = "mj-emulator-secret"
"""The ``mj-api-secret`` the emulator requires by default (``None`` disables the check)."""

# Midjourney's tile sizes for the common ratios (v6/v7); others keep the same pixel budget.
TILE_SIZES: dict[tuple[int, int], tuple[int, int]] = {
    (1, 1): (1024, 1024),
    (16, 9): (1456, 816),
    (9, 16): (816, 1456),
    (4, 3): (1232, 928),
    (3, 4): (928, 1232),
    (3, 2): (1344, 896),
    (2, 3): (896, 1344),
}
_AR = re.compile(r"--(?:ar|aspect)\s+(\S+)")


def tile_size(ratio: tuple[int, int]) -> tuple[int, int]:
    """One upscaled image's size for ``--ar W:H``."""
    w, h = ratio
    g = math.gcd(w, h)
    w, h = w // g, h // g
    if (w, h) in TILE_SIZES:
        return TILE_SIZES[(w, h)]
    scale = math.sqrt(1024 * 1024 / (w * h))
    return int(round(w * scale / 8)) * 8, int(round(h * scale / 8)) * 8


@dataclass
class MjTask:
    id: str
    prompt: str
    submitted_at: float
    submit_ms: int
    ratio: tuple[int, int] | None
    """``None`` when ``--ar`` could not be parsed: the task fails like Midjourney's error embed."""
    state: str | None
    files: dict[str, str] = field(default_factory=dict)
    """Served file paths by kind (``preview``, ``grid``), created on first view."""


@dataclass
class MidjourneyState(EmulatorState):
    """Emulator state plus the proxy's task timing, banned words and queue knobs."""

    not_start_seconds: float = 0.05
    submitted_seconds: float = 0.05
    progress_seconds: float = 0.3
    """Time spent ``IN_PROGRESS`` (progress climbs through it) before ``SUCCESS``."""
    banned_words: tuple[str, ...] = ("bannedword",)
    queue_full: int = 0
    """Next N submits answer ``code: 23`` (queue full)."""
    queued: int = 0
    """Next N submits answer ``code: 22`` (accepted, waiting in the queue)."""
    tasks: dict[str, MjTask] = field(default_factory=dict)

    def reset(self) -> None:
        """Healthy again, default timing, no tasks, empty request log."""
        super().reset()
        self.not_start_seconds, self.submitted_seconds, self.progress_seconds = 0.05, 0.05, 0.3
        self.banned_words, self.queue_full, self.queued = ("bannedword",), 0, 0
        self.tasks.clear()

    def take(self, knob: str) -> bool:
        with self._lock:
            value: int = getattr(self, knob)
            if value == 0:
                return False
            if value > 0:
                setattr(self, knob, value - 1)
            return True


def _spring_error(status: int, path: str) -> JSONResponse:
    reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return JSONResponse(
        {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "status": status,
            "error": reasons.get(status, "Error"),
            "path": path,
        },
        status,
    )


_FAULTS = FaultResponses(
    rate_limited=lambda retry_after: Response(
        b"<html><body><h1>429 Too Many Requests</h1></body></html>",
        429,
        headers={"Retry-After": f"{retry_after:g}"},
        media_type="text/html",
    ),
    server_error=lambda status: _spring_error(status, "/mj"),
)


def _submit_result(code: int, description: str, result: Any = None, **properties: Any) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": description, "result": result, "properties": properties}
    )


def create_app(state: MidjourneyState | None = None) -> Starlette:
    """The emulator app; its :class:`MidjourneyState` is ``app.state.emulator``."""
    state = state or MidjourneyState(api_key=DEFAULT_API_KEY)

    async def guard(request: Request) -> Response | None:
        await record_request(state, request)
        if state.api_key is not None and request.headers.get("mj-api-secret") != state.api_key:
            return Response(b"", 401)
        return await apply_faults(state, _FAULTS)

    def task_view(request: Request, task: MjTask) -> dict[str, Any]:
        elapsed = time.monotonic() - task.submitted_at
        started = task.submitted_at + state.not_start_seconds + state.submitted_seconds
        view: dict[str, Any] = {
            "id": task.id,
            "action": "IMAGINE",
            "prompt": task.prompt,
            "promptEn": task.prompt,
            "description": f"/imagine {task.prompt}",
            "state": task.state,
            "submitTime": task.submit_ms,
            "startTime": None,
            "finishTime": None,
            "progress": "0%",
            "imageUrl": None,
            "failReason": None,
            "properties": {"finalPrompt": task.prompt},
        }
        if elapsed < state.not_start_seconds:
            view.update(status="NOT_START", progress="0%")
            return view
        if elapsed < state.not_start_seconds + state.submitted_seconds:
            view.update(status="SUBMITTED")
            return view
        start_ms = task.submit_ms + int((started - task.submitted_at) * 1000)
        view["startTime"] = start_ms
        if task.ratio is None:
            view.update(
                status="FAILURE",
                progress="",
                failReason="[Invalid parameter] Invalid value",
                finishTime=start_ms,
            )
            return view
        width, height = tile_size(task.ratio)
        base = str(request.base_url).rstrip("/")
        running = elapsed - (started - task.submitted_at)
        if running < state.progress_seconds:
            percent = min(99, int(100 * running / max(state.progress_seconds, 1e-9)))
            # The proxy shows Discord's low-resolution preview while the job runs.
            if "preview" not in task.files:
                preview = make_image(width // 4, height // 4, int(task.id) % 1_000_003, "WEBP")
                task.files["preview"] = state.add_file(preview, "image/webp", name=f"{task.id}_preview.webp")
            view.update(status="IN_PROGRESS", progress=f"{percent}%", imageUrl=base + task.files["preview"])
            return view
        if "grid" not in task.files:
            grid = make_image(2 * width, 2 * height, int(task.id) % 1_000_003)
            task.files["grid"] = state.add_file(grid, "image/png", name=f"{task.id}_grid.png")
        path = task.files["grid"]
        view.update(
            status="SUCCESS",
            progress="100%",
            imageUrl=base + path,
            finishTime=start_ms + int(state.progress_seconds * 1000),
        )
        return view

    async def imagine(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _spring_error(400, request.url.path)
        prompt = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            return _submit_result(4, "prompt不能为空")
        lowered = prompt.lower()
        banned = next((w for w in state.banned_words if w in lowered), None)
        if banned is None and state.faults.take("refuse"):
            banned = prompt.split()[0]
        if banned is not None:
            return _submit_result(24, "可能包含敏感词", None, promptEn=prompt, bannedWord=banned)
        if state.take("queue_full"):
            return _submit_result(23, "队列已满，请稍后尝试")
        ratio: tuple[int, int] | None = (1, 1)
        matches = _AR.findall(prompt)
        if matches:
            w, _, h = matches[-1].partition(":")
            ratio = (int(w), int(h)) if w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0 else None
        now = time.monotonic()
        task = MjTask(
            id=str(int(time.time() * 1000) * 1000 + state.next_id() % 1000),
            prompt=prompt,
            submitted_at=now,
            submit_ms=int(time.time() * 1000),
            ratio=ratio,
            state=body.get("state"),
        )
        state.tasks[task.id] = task
        if state.faults.take("malformed"):
            return malformed_json()
        if state.take("queued"):
            return _submit_result(
                22,
                "排队中，前面还有1个任务",
                task.id,
                numberOfQueues=1,
                discordInstanceId="1118138338562560102",
            )
        return _submit_result(1, "提交成功", task.id, discordInstanceId="1118138338562560102")

    async def fetch(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        task = state.tasks.get(request.path_params["task_id"])
        if task is None:
            # The proxy's controller returns null: HTTP 200 with no body at all.
            return Response(b"", 200, media_type="application/json")
        if state.faults.take("malformed"):
            return malformed_json()
        return JSONResponse(task_view(request, task))

    routes = [
        *control_routes(state),
        Route("/mj/submit/imagine", imagine, methods=["POST"]),
        Route("/mj/task/{task_id}/fetch", fetch, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
