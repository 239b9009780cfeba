"""``python -m freepik_ai_orchestrator.cli``: the same as the ``freepik-ai`` command."""

from freepik_ai_orchestrator.cli import main

raise SystemExit(main())
