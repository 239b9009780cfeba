"""Parsing a user-supplied URL, strictly, into the parts we will actually use.

Parsing is done once, here, and everything downstream uses the parsed parts: the connection
goes to the address checked for ``host``, and the request line is built from ``path`` — never
from the original string, so nothing a parser elsewhere reads differently can slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

from orchestrator.outbound.addresses import IPAddress

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What may stay unescaped in a path or query; anything else (non-ASCII) is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


class TargetRefused(ValueError):
    """A URL we will not call. ``reason`` completes "<field> …"; ``code`` names the rule."""

    def __init__(self, reason: str, *, code: str = "url_invalid", setting: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.setting = setting

    def message(self, field: str) -> str:
        """The error message for the request field that held the URL."""
        text = f"{field} {self.reason}"
        if self.setting is not None:
            text += f"; private targets are allowed only when the operator sets {self.setting}=true"
        return text


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed, normalised http(s) URL."""

    scheme: str
    host: str
    """ASCII host: an IDNA-encoded name, a dotted IPv4 address or a bare IPv6 address."""
    port: int
    path: str
    """Path and query, percent-encoded ASCII, starting with ``/``."""
    address: IPAddress | None
    """The host as an address when it is one (no DNS involved)."""

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.path}"


def _control_character(value: str) -> str | None:
    for char in value:
        # Cc/Cf/Cs/Co/Cn (controls, invisible formatting, unassigned) and Z* (every space).
        if unicodedata.category(char)[0] in "CZ":
            return f"U+{ord(char):04X}"
    return None


def parse_target(url: str) -> Target:
    """The parts of an acceptable http(s) URL, or :class:`TargetRefused` saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"must be at most {MAX_URL_LENGTH} characters")
    bad = _control_character(url)
    if bad is not None:
        raise TargetRefused(
            f"must not contain control, whitespace or invisible characters (found {bad}); percent-encode them"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise TargetRefused("must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise TargetRefused("must not carry credentials (user@host); the signature authenticates us")
    if parts.fragment or url.endswith("#"):
        raise TargetRefused("must not have a #fragment (it is never sent)")
    if port == 0:
        raise TargetRefused("has an invalid port (0)")
    host, address = _parse_host(parts.netloc, parts.hostname)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        raise TargetRefused("must have a path starting with /")
    if parts.query or url.endswith("?"):
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return Target(scheme, host, port or _DEFAULT_PORTS[scheme], path, address)


def _parse_host(netloc: str, hostname: str | None) -> tuple[str, IPAddress | None]:
    if not hostname:
        raise TargetRefused("must name a host")
    if netloc.startswith("["):
        try:
            v6 = ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise TargetRefused("has an invalid IPv6 address in brackets") from exc
        if v6.scope_id:
            raise TargetRefused("must not use an IPv6 zone (%…)")
        return v6.compressed, v6
    name = hostname.removesuffix(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A host whose last label is numeric is an IPv4 address, in whatever form the C library
        # accepts (127.1, 0x7f.1, 017700000001…); resolvers read it so, and so must we.
        try:
            v4 = ipaddress.IPv4Address(socket.inet_aton(name))
        except (OSError, ValueError) as exc:
            raise TargetRefused("has an invalid IPv4 address") from exc
        return str(v4), v4
    try:
        ascii_host = idna.encode(name, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise TargetRefused(
            f"has a host that is not a valid DNS name: {_idna_reason(exc)} "
            "(labels of letters, digits and hyphens, 1-63 characters each, 253 in all)",
            code="url_invalid_host",
        ) from exc
    if len(ascii_host) > 253:
        raise TargetRefused("has a host name longer than 253 characters", code="url_invalid_host")
    return ascii_host.lower(), None


def _idna_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    printable = "".join(c if c.isprintable() and c.isascii() else "?" for c in text)
    return printable[:120]
