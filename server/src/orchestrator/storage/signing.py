"""Signed, expiring image URLs: usable in an ``<img>`` tag without an auth header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def _mac(self, path: str, expires: int) -> str:
        digest = hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:20]).rstrip(b"=").decode()

    def sign(self, path: str, *, now: float | None = None) -> str:
        """``path`` plus ``?expires=…&sig=…``. Expiry is rounded up to the minute so URLs are
        stable for a while (browsers and CDNs can cache them)."""
        base = int(now if now is not None else time.time()) + self.ttl_seconds
        expires = base + (-base % 60)
        return f"{path}?expires={expires}&sig={self._mac(path, expires)}"

    def verify(self, path: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        if expires < (now if now is not None else time.time()):
            return False
        # Bytes, not str: compare_digest raises on non-ASCII str, and the signature is caller data.
        return hmac.compare_digest(self._mac(path, expires).encode(), signature.encode("utf-8", "replace"))
