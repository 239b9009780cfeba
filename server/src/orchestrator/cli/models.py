"""``orchestrator models``: the catalog and what live mode needs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from orchestrator.cli.environment import announce_database, load_settings
from orchestrator.cli.errors import UserError
from orchestrator.cli.output import table


def cmd_models(args: argparse.Namespace) -> int:
    from orchestrator.catalog.catalog import load_catalog, price_per_image
    from orchestrator.providers.registry import PROVIDERS, missing_credential

    settings = load_settings()
    announce_database(settings)
    try:
        catalog = load_catalog(settings.catalog_path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the catalog (ORCHESTRATOR_CATALOG_PATH): {exc}") from None

    def configured(provider: str) -> bool:
        entry = PROVIDERS.get(provider)
        if entry is None:
            return False
        setting = entry.credential.removeprefix("ORCHESTRATOR_").lower()
        return getattr(settings.providers, setting, None) is not None

    rows: list[dict[str, Any]] = []
    for spec in catalog.models.values():
        price = price_per_image(spec.pricing, spec.size, spec.quality)
        ready = [p for p in spec.providers if configured(p)]
        missing = [] if ready else sorted({missing_credential(p) for p in spec.providers})
        rows.append(
            {
                "name": spec.name,
                "providers": spec.providers,
                "max_resolution": spec.max_resolution,
                "pricing_per_image": None if price is None else float(price),
                "description": spec.description,
                "live_available": bool(ready),
                "missing_credentials": missing,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        table(
            ("MODEL", "PRICE", "MAX SIZE", "LIVE", "PROVIDERS", "TO ENABLE LIVE, SET ONE OF"),
            [
                (
                    r["name"],
                    "unknown" if r["pricing_per_image"] is None else f"${r['pricing_per_image']:.3f}",
                    r["max_resolution"],
                    "yes" if r["live_available"] else "no",
                    ",".join(r["providers"]),
                    " ".join(r["missing_credentials"]) or "-",
                )
                for r in rows
            ],
        )
    )
    print("\nTest-mode keys (sk-test-…) can use every model: they render offline.", file=sys.stderr)
    return 0
