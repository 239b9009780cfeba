"""Authentication, scopes, tenancy and key management."""

from __future__ import annotations

import time
from datetime import date, timedelta

import jwt
import pytest

from orchestrator.auth.keys import generate_key, parse_key

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

USAGE_RANGE = {
    "start_date": str(date.today() - timedelta(days=1)),
    "end_date": str(date.today() + timedelta(days=1)),
}
GEN = {"prompt": "a lighthouse at dusk", "model": "flux-dev"}


def test_key_checksum_catches_typos() -> None:
    key = generate_key("test")
    assert parse_key(key) is not None and parse_key(key).mode == "test"
    typo = key[:-7] + ("A" if key[-7] != "A" else "B") + key[-6:]
    assert parse_key(typo) is None
    assert parse_key(key[:-1]) is None
    assert parse_key(generate_key("live")).mode == "live"


async def test_missing_malformed_and_unknown_keys_are_401_with_challenge(server) -> None:
    async with server.client() as anonymous:
        missing = await anonymous.get("/api/v1/models")
        malformed = await anonymous.get("/api/v1/models", headers={"Authorization": "Bearer sk-test-nope"})
        unknown = await anonymous.get(
            "/api/v1/models", headers={"Authorization": f"Bearer {generate_key('test')}"}
        )
        basic = await anonymous.get("/api/v1/models", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    for response in (missing, malformed, unknown, basic):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["www-authenticate"].startswith('Bearer realm="orchestrator"')
    assert missing.json()["error"]["code"] == "missing_credentials"
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]


async def test_x_api_key_header_works(server, test_key: str) -> None:
    async with server.client(headers={"X-API-Key": test_key}) as client:
        assert (await client.get("/api/v1/models")).status_code == 200


async def test_scopes_are_enforced(server) -> None:
    read_only = await server.create_key(scopes=("read",))
    async with server.client(read_only) as client:
        response = await client.post("/api/v1/generate", json=GEN)
        assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"
        assert 'scope="generate"' in response.headers["www-authenticate"]
        assert (await client.get("/api/v1/keys")).status_code == 403
        assert (await client.get("/api/v1/generations")).status_code == 200


async def test_one_project_never_sees_another(server) -> None:
    alpha = await server.create_key(project="alpha")
    beta = await server.create_key(project="beta")
    async with server.client(alpha) as a, server.client(beta) as b:
        made = (await a.post("/api/v1/generate", json={**GEN, "metadata": {"team": "alpha"}})).json()
        assert (await b.get(f"/api/v1/generations/{made['id']}")).status_code == 404
        assert (await b.get(f"/api/v1/generations/{made['id']}/events")).status_code == 404
        assert (await b.post(f"/api/v1/generations/{made['id']}/cancel")).status_code == 404
        assert (await b.get("/api/v1/generations")).json()["data"] == []
        usage = (await b.get("/api/v1/usage", params=USAGE_RANGE)).json()
        assert usage["total_generations"] == 0
        # Nor another project's keys.
        alpha_keys = (await a.get("/api/v1/keys")).json()["data"]
        assert (await b.delete(f"/api/v1/keys/{alpha_keys[0]['id']}")).status_code == 404


async def test_test_and_live_modes_are_kept_apart(server) -> None:
    test_key = await server.create_key()
    live_key = await server.create_key(mode="live")
    async with server.client(test_key) as t, server.client(live_key) as live:
        made = (await t.post("/api/v1/generate", json=GEN)).json()
        assert (await live.get(f"/api/v1/generations/{made['id']}")).status_code == 404
        assert (await live.get("/api/v1/generations")).json()["data"] == []


async def test_key_management_api(server, test_key: str) -> None:
    async with server.client(test_key) as admin:
        created = await admin.post(
            "/api/v1/keys", json={"name": "ci", "scopes": ["read"], "rate_limit_per_minute": 5}
        )
        assert created.status_code == 201
        body = created.json()
        assert body["key"].startswith("sk-test-") and body["prefix"] == body["key"][:12]
        listed = (await admin.get("/api/v1/keys")).json()["data"]
        assert body["id"] in {k["id"] for k in listed} and all("key" not in k for k in listed)
        async with server.client(body["key"]) as new_client:
            assert (await new_client.get("/api/v1/models")).status_code == 200
            revoked = await admin.delete(f"/api/v1/keys/{body['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            assert (await new_client.get("/api/v1/models")).status_code == 401
        bad = await admin.post("/api/v1/keys", json={"name": "x", "scopes": ["root"]})
        assert bad.status_code == 422 and bad.json()["error"]["param"].startswith("scopes")


async def test_keys_are_stored_only_as_hashes(server, test_key: str) -> None:
    from sqlalchemy import select

    from orchestrator.db.models import ApiKey

    async with server.app.state.services.db.read() as session:
        rows = (await session.execute(select(ApiKey))).scalars().all()
    assert rows and all(test_key not in (r.key_hash, r.prefix) and len(r.key_hash) == 64 for r in rows)


async def test_hs256_jwt_maps_to_project_and_scopes(start_server) -> None:
    server = await start_server(jwt_secret="s3cret-for-tests-0123456789abcdef")
    claims = {
        "sub": "user-1",
        "project": "gamma",
        "scope": "generate read",
        "mode": "test",
        "exp": int(time.time()) + 60,
    }
    token = jwt.encode(claims, "s3cret-for-tests-0123456789abcdef", algorithm="HS256")
    async with server.client(token) as client:
        made = await client.post("/api/v1/generate", json=GEN)
        assert made.status_code == 200 and made.json()["livemode"] is False
        assert (await client.get("/api/v1/keys")).status_code == 403  # no admin scope
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 10}, "s3cret-for-tests-0123456789abcdef", algorithm="HS256"
    )
    forged = jwt.encode(claims, "another-secret-0123456789abcdef!!", algorithm="HS256")
    async with server.client(expired) as e, server.client(forged) as f:
        assert (await e.get("/api/v1/models")).json()["error"]["message"].endswith("token expired")
        assert (await f.get("/api/v1/models")).status_code == 401


async def test_rs256_jwt_verified_against_a_jwks_file(start_server, tmp_path) -> None:
    import json

    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key())) | {
        "kid": "idp-1",
        "alg": "RS256",
        "use": "sig",
    }
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    server = await start_server(jwt_jwks_file=jwks, jwt_audience="orchestrator")
    claims = {
        "sub": "svc",
        "project": "delta",
        "scope": ["read"],
        "aud": "orchestrator",
        "exp": int(time.time()) + 60,
    }
    good = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "idp-1"})
    wrong_audience = jwt.encode(
        claims | {"aud": "elsewhere"}, private, algorithm="RS256", headers={"kid": "idp-1"}
    )
    async with server.client(good) as ok, server.client(wrong_audience) as bad:
        assert (await ok.get("/api/v1/generations")).status_code == 200
        assert (await ok.post("/api/v1/generate", json=GEN)).status_code == 403  # read scope only
        assert (await bad.get("/api/v1/generations")).status_code == 401
