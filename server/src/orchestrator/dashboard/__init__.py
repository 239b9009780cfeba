"""The web dashboard: static files served by the app itself, so it works offline.

The page holds no server-side session: it signs in by keeping a pasted API key in the tab's
``sessionStorage`` and sends it as a bearer token to the public API, like any other client.
"""
