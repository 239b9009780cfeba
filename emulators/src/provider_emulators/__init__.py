"""Loopback emulators of the upstream image providers, for tests, demos and local development.

Each ``provider_emulators.<provider>`` module exposes ``create_app(state=None)`` returning an
ASGI app that speaks that provider's real wire format (paths, auth, validation, error bodies,
result URLs), with fault knobs (:class:`~provider_emulators._common.Faults`) settable from
Python or over HTTP (``POST /_emulator/faults``). The app's state is ``app.state.emulator``.

Run one from a shell::

    python -m provider_emulators openai --port 9001

or in-process (tests)::

    from provider_emulators.openai import create_app
    from provider_emulators._common import serve_in_thread

    app = create_app()
    with serve_in_thread(app, state=app.state.emulator) as server:
        ...  # point ORCHESTRATOR_OPENAI_BASE_URL at f"{server.base_url}/v1"

Importing this package does nothing else.
"""
