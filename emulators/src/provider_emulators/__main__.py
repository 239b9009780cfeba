"""``python -m provider_emulators <provider> [--host H] [--port P] [--api-key K]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import uvicorn

import provider_emulators as package


def available() -> list[str]:
    """Emulator modules shipped in this package (every public module with ``create_app``)."""
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m provider_emulators",
        description="Run a loopback emulator of an image provider's HTTP API.",
    )
    parser.add_argument("provider", choices=available())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument(
        "--api-key", default=None, help="the only key accepted (default: the emulator's documented test key)"
    )
    parser.add_argument("--any-key", action="store_true", help="accept any non-empty key")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    module = importlib.import_module(f"{package.__name__}.{args.provider}")
    app = module.create_app()
    state = app.state.emulator
    if args.any_key:
        state.api_key = None
    elif args.api_key:
        state.api_key = args.api_key
    key = "any non-empty key" if state.api_key is None else f"key {state.api_key!r}"
    sys.stderr.write(
        f"{args.provider} emulator on http://{args.host}:{args.port} accepting {key}\n"
        f"fault knobs: POST http://{args.host}:{args.port}/_emulator/faults\n"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, ws="none", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
