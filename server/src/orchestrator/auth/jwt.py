"""Bearer JWTs from an identity provider, verified with an HS256 secret or a JWKS (file or URL)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from orchestrator.auth.principal import SCOPES, Principal

MAX_PROJECT_LENGTH = 64  # the width of the project column
_ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
_KNOWN_ALGORITHMS = ("HS256", "HS384", "HS512", "none", *_ASYMMETRIC)
_SAFE = re.compile(r"[^\x00-\x1f\x7f]+")


def _printable(value: object, max_length: int) -> bool:
    """A claim we can store and show: a string of printable, valid Unicode, not too long."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length or not _SAFE.fullmatch(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


class JWTError(Exception):
    """The token is not acceptable; the message says why (safe to show the caller)."""


class JWTVerifier:
    """Turns a verified token into a :class:`Principal`.

    Claims: ``sub`` (required), the project claim (``project`` by default), the scope claim
    (space-separated string or list; ``scope`` by default) and optional ``mode`` (``test``/``live``).
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        project_claim: str = "project",
        scope_claim: str = "scope",
    ) -> None:
        self._secret = secret
        self._static_keys: dict[str, PyJWK] = {}
        if jwks_file is not None:
            data: dict[str, Any] = json.loads(jwks_file.read_text())
            for key in data.get("keys", []):
                jwk = PyJWK(key)
                self._static_keys[jwk.key_id or ""] = jwk
        self._jwks_client = PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._project_claim = project_claim
        self._scope_claim = scope_claim

    @property
    def enabled(self) -> bool:
        return bool(self._secret or self._static_keys or self._jwks_client)

    async def verify(self, token: str) -> Principal:
        # Everything in the unverified header is attacker data: it only picks which key to try,
        # and is never echoed back (it could hold quotes, CR/LF or non-Latin-1 text).
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise JWTError("malformed token") from exc
        algorithm = header.get("alg")
        kid = header.get("kid")
        if not isinstance(algorithm, str) or (kid is not None and not isinstance(kid, str)):
            raise JWTError("malformed token header")
        if algorithm == "HS256" and self._secret:
            key: Any = self._secret
        elif algorithm in _ASYMMETRIC and (self._static_keys or self._jwks_client):
            key = await self._public_key(token, kid)
        else:
            shown = algorithm if algorithm in _KNOWN_ALGORITHMS else "this algorithm"
            raise JWTError(f"tokens signed with {shown} are not accepted here")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise JWTError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise JWTError(f"token rejected: {exc}") from exc
        except (ValueError, TypeError) as exc:  # a library edge case on odd input is still a refusal
            raise JWTError("token rejected") from exc
        return self._principal(claims)

    async def _public_key(self, token: str, kid: str | None) -> Any:
        if self._static_keys:
            jwk = self._static_keys.get(kid or "") or (
                next(iter(self._static_keys.values())) if len(self._static_keys) == 1 else None
            )
            if jwk is None:
                raise JWTError("token signed with an unknown key id")
            return jwk.key
        assert self._jwks_client is not None
        try:
            # PyJWKClient fetches with urllib; keep that off the event loop.
            signing_key = await asyncio.to_thread(self._jwks_client.get_signing_key_from_jwt, token)
        except jwt.PyJWTError as exc:
            raise JWTError(f"no signing key for this token: {exc}") from exc
        return signing_key.key

    def _principal(self, claims: dict[str, Any]) -> Principal:
        project = claims.get(self._project_claim)
        if not isinstance(project, str) or not _printable(project, MAX_PROJECT_LENGTH):
            raise JWTError(
                f"claim {self._project_claim!r} must be a string of 1 to {MAX_PROJECT_LENGTH} printable "
                "characters"
            )
        subject = claims["sub"]
        if not isinstance(subject, str) or not _printable(subject, 255):
            raise JWTError("claim 'sub' must be a string of 1 to 255 printable characters")
        raw_scopes = claims.get(self._scope_claim, "")
        if isinstance(raw_scopes, str):
            scopes = raw_scopes.split()
        elif isinstance(raw_scopes, list) and all(isinstance(s, str) for s in raw_scopes):
            scopes = raw_scopes
        else:
            raise JWTError(
                f"claim {self._scope_claim!r} must be a space-separated string or a list of strings"
            )
        mode = claims.get("mode", "live")
        if mode not in ("test", "live"):
            raise JWTError("claim 'mode' must be 'test' or 'live'")
        return Principal(
            project=project,
            livemode=mode == "live",
            scopes=frozenset(s for s in scopes if s in SCOPES),
            subject=f"jwt:{subject}",
        )
