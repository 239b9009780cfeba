"""``freepik-ai``: the orchestrator from a shell (``pip install 'freepik-ai-orchestrator-client[cli]'``).

    freepik-ai generate "A lighthouse at dusk" --model dall-e-3 --out images/
    freepik-ai batch prompts.txt --model flux-dev --concurrency 4 --out images/
    freepik-ai history --limit 20            # a table; --json for scripts
    freepik-ai usage --group-by model
    freepik-ai webhooks create https://example.com/hooks

The server and key come from ``--base-url``/``--api-key`` or ``ORCHESTRATOR_BASE_URL`` and
``ORCHESTRATOR_API_KEY``. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freepik-ai", description="Generate images and manage the Freepik AI Orchestrator from a shell."
    )
    parser.add_argument(
        "--base-url", help="server URL (default $ORCHESTRATOR_BASE_URL or http://localhost:8000)"
    )
    parser.add_argument("--api-key", help="API key (default $ORCHESTRATOR_API_KEY)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds one call may take (default 600)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def generation_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-m", "--model", required=True, help="catalog model, e.g. dall-e-3")
        sub.add_argument("--style")
        sub.add_argument("--size", help="WIDTHxHEIGHT")
        sub.add_argument("--quality")
        sub.add_argument("-n", type=int, default=None, help="images per prompt")
        sub.add_argument("--seed", type=int, default=None)
        sub.add_argument("--negative-prompt")
        sub.add_argument("--json", action="store_true", help="print results as JSON")

    generate = commands.add_parser("generate", help="generate one image (or -n images) for a prompt")
    generate.add_argument("prompt")
    generation_options(generate)
    generate.add_argument(
        "-o", "--out", type=Path, default=Path("."), help="folder for the images (default .)"
    )
    generate.add_argument("--no-download", action="store_true", help="print the URLs only")

    batch = commands.add_parser(
        "batch",
        help="one generation per line of a file; run it again to resume without paying twice",
    )
    batch.add_argument("file", type=Path, help="prompts, one per line (blank lines and # comments skipped)")
    generation_options(batch)
    batch.add_argument("-o", "--out", type=Path, default=Path("images"), help="folder for the images")
    batch.add_argument("-c", "--concurrency", type=int, default=4, help="jobs at once (default 4)")

    history = commands.add_parser("history", help="past generations, newest first")
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    history.add_argument("--model")
    history.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "canceled"])
    history.add_argument("--json", action="store_true")

    usage = commands.add_parser("usage", help="generations and cost over a date range")
    usage.add_argument("--start", type=date.fromisoformat, help="YYYY-MM-DD (default 29 days ago)")
    usage.add_argument("--end", type=date.fromisoformat, help="YYYY-MM-DD (default today)")
    usage.add_argument("--group-by", help="model, day, key or metadata.<key>")
    usage.add_argument("--json", action="store_true")

    webhooks = commands.add_parser("webhooks", help="webhook endpoints (admin key)")
    actions = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("list", "every endpoint"),):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--json", action="store_true")
    create = actions.add_parser("create", help="register an endpoint; prints its secret once")
    create.add_argument("url")
    create.add_argument(
        "--event",
        action="append",
        dest="events",
        help="event type (repeatable; default: the generation.* events)",
    )
    create.add_argument("--description")
    create.add_argument("--json", action="store_true")
    for name, text in (
        ("get", "one endpoint"),
        ("delete", "remove an endpoint"),
        ("deliveries", "recent deliveries"),
        ("pause", "stop sending events to an endpoint"),
        ("resume", "send events again"),
        ("test", "queue a signed webhook.test event"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("webhook_id")
        sub.add_argument("--json", action="store_true")
    verify = actions.add_parser("verify", help="check a delivery's signature; prints the event")
    verify.add_argument("--secret", required=True, help="the endpoint's whsec_… secret")
    verify.add_argument("--payload", type=Path, required=True, help="file with the raw request body")
    verify.add_argument(
        "--header",
        action="append",
        default=[],
        help="'name: value' (webhook-id, webhook-timestamp, webhook-signature)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a job or call failed, 2 bad usage)."""
    try:
        from rich.console import Console
    except ImportError:  # the library itself does not need rich
        sys.stderr.write(
            "freepik-ai needs the [cli] extra: pip install 'freepik-ai-orchestrator-client[cli]'\n"
        )
        return EXIT_USAGE
    args = _parser().parse_args(argv)
    err = Console(stderr=True, soft_wrap=True)  # messages name paths: never broken across lines
    from ..exceptions import OrchestrationError

    try:
        return asyncio.run(_dispatch(args, err))
    except KeyboardInterrupt:
        err.print("interrupted; run the same command again to resume (nothing is charged twice)")
        return EXIT_INTERRUPTED
    except OrchestrationError as exc:
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", markup=True, highlight=False)
        return EXIT_FAILED


async def _dispatch(args: argparse.Namespace, err: Any) -> int:
    from . import _commands

    if args.command == "webhooks" and args.action == "verify":
        return _commands.verify(args)
    from .._async_client import AsyncOrchestrationClient

    options: dict[str, Any] = {"base_url": args.base_url, "api_key": args.api_key}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    async with AsyncOrchestrationClient(**options) as client:
        handler = {
            "generate": _commands.generate,
            "batch": _commands.batch,
            "history": _commands.history,
            "usage": _commands.usage,
            "webhooks": _commands.webhooks,
        }[args.command]
        return await handler(client, args, err)


def default_dates(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or date.today()
    return start or end - timedelta(days=29), end
