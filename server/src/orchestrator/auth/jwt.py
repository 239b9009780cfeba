"""Bearer JWTs from an identity provider, verified with an HS256 secret or a JWKS (file or URL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from orchestrator.auth.principal import SCOPES, Principal


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
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise JWTError("malformed token") from exc
        algorithm = header.get("alg", "")
        if algorithm == "HS256" and self._secret:
            key: Any = self._secret
        elif algorithm.startswith(("RS", "ES", "PS", "Ed")) and (self._static_keys or self._jwks_client):
            key = await self._public_key(token, header.get("kid"))
        else:
            raise JWTError(f"tokens signed with {algorithm or 'no algorithm'} are not accepted here")
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
        if not isinstance(project, str) or not project:
            raise JWTError(f"token has no {self._project_claim!r} claim")
        raw_scopes = claims.get(self._scope_claim, "")
        scopes = raw_scopes.split() if isinstance(raw_scopes, str) else list(raw_scopes)
        mode = claims.get("mode", "live")
        if mode not in ("test", "live"):
            raise JWTError("claim 'mode' must be 'test' or 'live'")
        return Principal(
            project=project,
            livemode=mode == "live",
            scopes=frozenset(s for s in scopes if s in SCOPES),
            subject=f"jwt:{claims['sub']}",
        )
