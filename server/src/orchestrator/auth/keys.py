"""API key format: ``sk-test-…`` / ``sk-live-…`` with a checksum, stored only as a SHA-256 hash.

The checksum lets us refuse a mistyped or truncated key without touching the database, and lets
secret scanners recognise our keys.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass

from orchestrator.ids import fixed_width

_BASE62 = string.digits + string.ascii_letters
_BODY_LEN = 32
_CHECK_LEN = 6
MODES = ("test", "live")


def _base62(value: int, length: int) -> str:
    return fixed_width(value, length, _BASE62)


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode()), _CHECK_LEN)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    mode: str
    secret: str

    @property
    def hash(self) -> str:
        return hash_key(self.secret)

    @property
    def prefix(self) -> str:
        return key_prefix(self.secret)


def generate_key(mode: str) -> str:
    """A fresh key for ``mode`` ("test" or "live")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    body = "".join(secrets.choice(_BASE62) for _ in range(_BODY_LEN))
    head = f"sk-{mode}-{body}"
    return head + _checksum(head)


def parse_key(candidate: str) -> ParsedKey | None:
    """The key's mode if ``candidate`` is well-formed with a valid checksum, else ``None``."""
    if not candidate.isascii():  # compare_digest refuses non-ASCII str; no key has any
        return None
    for mode in MODES:
        prefix = f"sk-{mode}-"
        if candidate.startswith(prefix) and len(candidate) == len(prefix) + _BODY_LEN + _CHECK_LEN:
            head, check = candidate[:-_CHECK_LEN], candidate[-_CHECK_LEN:]
            if secrets.compare_digest(_checksum(head), check):
                return ParsedKey(mode=mode, secret=candidate)
    return None


def hash_key(key: str) -> str:
    # Keys carry 190 bits of entropy, so a fast hash is safe and keeps auth off the CPU budget.
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    """What we show of a key: enough to recognise it, not enough to use it."""
    return key[: len("sk-test-") + 4]
