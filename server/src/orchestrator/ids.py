"""Prefixed, time-ordered identifiers (``gen_01JD…``): sortable by creation, safe in URLs."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def fixed_width(value: int, length: int, alphabet: str) -> str:
    """The last ``length`` digits of ``value`` in base ``len(alphabet)``, most significant first."""
    digits = []
    for _ in range(length):
        value, rem = divmod(value, len(alphabet))
        digits.append(alphabet[rem])
    return "".join(reversed(digits))


def _encode(value: int, length: int) -> str:
    return fixed_width(value, length, _ALPHABET)


def new_id(prefix: str) -> str:
    """A ULID with a type prefix: 48 bits of milliseconds, then 80 random bits."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_encode(millis, 10)}{_encode(int.from_bytes(os.urandom(10), 'big'), 16)}"


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` has the shape :func:`new_id` gives ids of ``prefix`` (no lookup)."""
    body = value.removeprefix(f"{prefix}_")
    return body != value and len(body) == 26 and all(c in _ALPHABET for c in body)
