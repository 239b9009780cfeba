"""Authentication never fails with a 500 on what a caller sends; keys never create bigger keys."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

SECRET = "s3cret-for-tests-0123456789abcdef"
GEN = {"prompt": "a lighthouse at dusk", "model": "flux-dev"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict, claims: dict) -> str:
    """A token with any header at all, HS256-signed over its own bytes as a real one would be."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = jwt.api_jws.get_algorithm_by_name("HS256").sign(signing_input.encode(), SECRET.encode())
    return signing_input + "." + _b64(signature)


def _claims(**extra: object) -> dict:
    return {"sub": "user-1", "project": "gamma", "scope": "generate read", "mode": "test"} | {
        "exp": int(time.time()) + 60,
        **extra,
    }


def _challenge_is_safe(response: httpx.Response) -> None:
    challenge = response.headers["www-authenticate"]
    assert challenge.isascii() and "\r" not in challenge and "\n" not in challenge
    # Exactly the three quoted parameters we put there (realm, error, error_description).
    assert challenge.count('"') == 6, challenge


@pytest.mark.parametrize(
    "alg",
    [None, 5, ["HS256"], "HS256€", 'HS256", scope="admin', "HS256\r\nX-Injected: 1", "none", ""],
    ids=["null", "number", "list", "non-latin-1", "quote", "crlf", "none", "empty"],
)
async def test_untrusted_jwt_header_fields_are_refused_cleanly(start_server, alg: object) -> None:
    server = await start_server(jwt_secret=SECRET)
    async with server.client(_token({"alg": alg, "typ": "JWT"}, _claims())) as client:
        response = await client.get("/api/v1/models")
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
    assert "X-Injected" not in response.headers and "x-injected" not in response.text.lower()
    _challenge_is_safe(response)


async def test_jwt_kid_of_the_wrong_type_is_refused(start_server) -> None:
    server = await start_server(jwt_secret=SECRET)
    async with server.client(_token({"alg": "HS256", "kid": {"x": 1}}, _claims())) as client:
        assert (await client.get("/api/v1/models")).status_code == 401


@pytest.mark.parametrize(
    "claims",
    [
        _claims(scope=5),
        _claims(scope={"a": 1}),
        _claims(project="p" * 65),
        _claims(project="a\x00b"),
        _claims(sub=7),
    ],
    ids=["scope-number", "scope-object", "long-project", "nul-project", "numeric-sub"],
)
async def test_signed_tokens_with_unusable_claims_are_401(start_server, claims: dict) -> None:
    server = await start_server(jwt_secret=SECRET)
    async with server.client(jwt.encode(claims, SECRET, algorithm="HS256")) as client:
        response = await client.post("/api/v1/generate", json=GEN)
    assert response.status_code == 401, response.text
    _challenge_is_safe(response)


async def test_non_ascii_credentials_and_signatures_are_refused(server) -> None:
    raw_key = b"sk-test-" + b"\xe9" * 38  # the right length, so the checksum comparison runs
    async with server.client() as client:
        key = await client.get("/api/v1/models", headers={"X-API-Key": raw_key})
        assert key.status_code == 401
        image = await client.get("/api/v1/images/ab/x.png", params={"expires": "99999999999", "sig": "é"})
        assert image.status_code == 403 and image.json()["error"]["code"] == "invalid_signature"
        raw = await client.get("/api/v1/images/ab/x.png?expires=99999999999&sig=%C3%A9%FF")
        assert raw.status_code == 403


async def test_test_keys_create_only_test_keys(server) -> None:
    key = await server.create_key(mode="test")
    async with server.client(key) as admin:
        live = await admin.post("/api/v1/keys", json={"name": "ci", "mode": "live"})
        assert live.status_code == 403 and live.json()["error"]["param"] == "mode"
        assert (await admin.post("/api/v1/keys", json={"name": "ci", "mode": "test"})).status_code == 201
        assert [k["mode"] for k in (await admin.get("/api/v1/keys")).json()["data"]] == ["test", "test"]


async def test_created_keys_stay_within_their_creators_limits(server) -> None:
    from decimal import Decimal

    key = await server.create_key(mode="test", monthly_budget=Decimal("5"), rate_limit_per_minute=60)
    async with server.client(key) as admin:
        over = await admin.post("/api/v1/keys", json={"name": "x", "monthly_budget": 50})
        assert over.status_code == 403 and over.json()["error"]["param"] == "monthly_budget"
        fast = await admin.post("/api/v1/keys", json={"name": "x", "rate_limit_per_minute": 600})
        assert fast.status_code == 403 and fast.json()["error"]["param"] == "rate_limit_per_minute"
        inherited = await admin.post("/api/v1/keys", json={"name": "x"})
        assert inherited.status_code == 201
        assert inherited.json()["monthly_budget"] == 5 and inherited.json()["rate_limit_per_minute"] == 60
        smaller = await admin.post("/api/v1/keys", json={"name": "x", "monthly_budget": 1})
        assert smaller.status_code == 201 and smaller.json()["monthly_budget"] == 1


async def test_live_admin_keys_set_any_limits(server) -> None:
    from decimal import Decimal

    key = await server.create_key(mode="live", monthly_budget=Decimal("5"))
    async with server.client(key) as admin:
        made = await admin.post("/api/v1/keys", json={"name": "x", "mode": "live", "monthly_budget": 500})
        assert made.status_code == 201 and made.json()["monthly_budget"] == 500


async def test_a_key_pasted_into_a_url_is_not_logged(server, test_key: str) -> None:
    # The session's log collector fails the run if any log line holds an issued key.
    async with server.client() as client:
        image = await client.get(f"/api/v1/images/ab/{test_key}", params={"expires": "1", "sig": "x"})
        assert image.status_code == 403
        async with server.client(test_key) as api:
            assert (await api.get(f"/api/v1/generations/{test_key}")).status_code == 404
