"""``orchestrator serve`` and ``orchestrator migrate``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from orchestrator import __version__
from orchestrator.cli.environment import announce_database, load_settings, redact, run_db
from orchestrator.cli.errors import UserError
from orchestrator.settings import Settings


def _configure_logging(settings: Settings) -> None:
    from orchestrator.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if not settings.access_log:
        import logging

        logging.getLogger("orchestrator.access").setLevel(logging.WARNING)


def create_app_from_env() -> Any:
    """The app factory of ``serve --workers N``: each process configures its logs and builds its app."""
    from orchestrator.app import create_app

    settings = Settings()
    _configure_logging(settings)
    return create_app(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.app import create_app
    from orchestrator.db.migrate import upgrade_to_head
    from orchestrator.http_guard import HttpLimits, guarded_protocol
    from orchestrator.limits.deployment import default_workers, workers_refusal

    settings = load_settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.no_access_log:
        settings.access_log = False
        os.environ["ORCHESTRATOR_ACCESS_LOG"] = "false"  # for worker processes
    # PostgreSQL with Redis scales with processes (one per core by default); SQLite has one writer
    # anyway, and without Redis several processes would each count the limits on their own.
    workers = args.workers or default_workers(settings)
    refusal = workers_refusal(settings, workers)
    if refusal is not None:
        raise UserError(refusal)
    # Processes sharing the limits: these, or more when the operator counts other hosts too.
    settings.workers = max(settings.workers, workers) if "workers" in settings.model_fields_set else workers
    os.environ["ORCHESTRATOR_WORKERS"] = str(settings.workers)  # for worker processes
    if workers > 1 and settings.redis_url is None:
        print(
            f"warning: {workers} processes without Redis: each rate limit is split {workers} ways and "
            "running jobs are capped by the database only (/readyz reports it)",
            file=sys.stderr,
        )
    _check_port_free(settings.host, settings.port, "--port" if args.port else "ORCHESTRATOR_PORT")
    announce_database(settings)
    run_db(settings, lambda: upgrade_to_head(settings.db_url))
    settings.signing_key()  # created once here, before any worker process reads it
    _print_start_banner(settings)
    _configure_logging(settings)
    if workers > 1:
        # Each process builds its own app from the environment; they share the database queue.
        os.environ["ORCHESTRATOR_AUTO_MIGRATE"] = "false"
        target: Any = "orchestrator.cli.serve:create_app_from_env"
    else:
        target = create_app(settings)
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,  # configure_logging already routes uvicorn's loggers
        log_level=settings.log_level,
        loop="uvloop",
        access_log=False,  # replaced by the orchestrator.access line
        timeout_graceful_shutdown=15,
        # Header size, header and body timeouts, connection cap: see orchestrator.http_guard.
        http=guarded_protocol(HttpLimits.from_settings(settings)),
        timeout_keep_alive=settings.http_keep_alive_seconds,
    )
    return 0


def _check_port_free(host: str, port: int, setting: str) -> None:
    """Say plainly when the port is taken, before uvicorn buries it in its logs (and exits 3)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host} (ORCHESTRATOR_HOST / --host): {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else 8000
                raise UserError(
                    f"port {port} on {host} is already in use (set by {setting}): stop the other "
                    f"server or pick another port, e.g. `orchestrator serve --port {other}`"
                ) from None
            raise UserError(
                f"cannot listen on {host}:{port} (ORCHESTRATOR_HOST or --host, ORCHESTRATOR_PORT or "
                f"--port): {exc.strerror}"
            ) from None


def _print_start_banner(settings: Settings) -> None:
    from orchestrator.db.engine import Database
    from orchestrator.db.repositories.keys import KeyRepository

    async def count() -> int:
        db = Database(settings.db_url)
        try:
            async with db.read() as session:
                return await KeyRepository(session).count()
        finally:
            await db.dispose()

    where = f"http://{settings.host}:{settings.port}"
    print(
        f"Freepik AI Orchestrator {__version__} on {where} (database: {settings.database_label()}, "
        f"chosen by {settings.database_chosen_by}; data in {settings.data_dir.resolve()}); "
        f"API reference: {where}/docs",
        file=sys.stderr,
    )
    if run_db(settings, count) == 0:
        # The key must land in this server's database: repeat the setting that chose it.
        same = ""
        if settings.database_chosen_by.startswith("ORCHESTRATOR_DATA_DIR="):
            same = f"ORCHESTRATOR_DATA_DIR={shlex.quote(str(settings.data_dir))} "
        elif settings.database_chosen_by == "ORCHESTRATOR_DATABASE_URL":
            same = "ORCHESTRATOR_DATABASE_URL=<the server's> "
        print(
            "No API keys yet. Create a test-mode key (works with every model, no provider account):\n"
            f"  {same}.venv/bin/orchestrator keys create --name me --mode test --scopes generate read admin\n"
            f"then: curl {where}/api/v1/models -H 'Authorization: Bearer <key>'",
            file=sys.stderr,
        )


def cmd_migrate(_args: argparse.Namespace) -> int:
    from orchestrator.db.migrate import upgrade_to_head

    settings = load_settings()
    announce_database(settings)
    run_db(settings, lambda: upgrade_to_head(settings.db_url))
    print(f"database at head: {redact(settings.db_url)}")
    return 0
