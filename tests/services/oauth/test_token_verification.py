"""The API refuses every bad token with 401, a missing scope with 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import example_request


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(stack, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": stack.settings.issuer, "aud": stack.settings.audience, "sub": "x",
              "client_id": "x", "org": "tj-paris", "org_type": "court", "iat": now,
              "exp": now + 300, "jti": "j", "scope": "information-requests:read"}
    claims.update(overrides)
    return claims


def _sign(stack, claims: dict, header: dict | None = None) -> str:
    key = stack.hub.keys.signing_set().keys[0]
    head = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
    return jwt.encode(head, claims, key)


def _status(stack, token: str) -> tuple[int, dict]:
    resp = stack.http.get("/v1/information-requests",
                          headers={"Authorization": f"Bearer {token}".encode()})
    if resp.status_code == 401:
        assert resp.headers["content-type"] == "application/problem+json"
    return resp.status_code, resp.json()


def test_a_good_token_passes(stack):
    assert _status(stack, _sign(stack, _claims(stack)))[0] == 200


def test_no_token(stack):
    resp = stack.http.get("/v1/information-requests")
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("token", ["abc", "a.b.c", "a.b", "....", "ey.ey.ey", "é.é.é"])
def test_malformed_tokens(stack, token):
    assert _status(stack, token)[0] == 401


def test_alg_none(stack):
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    token = f"{header}.{_b64(json.dumps(_claims(stack)).encode())}."
    status, problem = _status(stack, token)
    assert status == 401 and "RS256" in problem["detail"]


def test_hs256_signed_with_the_public_key(stack):
    public = stack.http.get("/.well-known/jwks.json").json()["keys"][0]
    pem = RSAKey.import_key(public).as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": public["kid"]}).encode())
    payload = _b64(json.dumps(_claims(stack)).encode())
    sig = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert _status(stack, f"{header}.{payload}.{_b64(sig)}")[0] == 401


def test_bad_signature(stack):
    token = _sign(stack, _claims(stack))
    head, payload, sig = token.split(".")
    tampered = _b64(json.dumps(_claims(stack, org="tj-lyon")).encode())
    assert _status(stack, f"{head}.{tampered}.{sig}")[0] == 401


def test_signed_by_a_foreign_key(stack):
    foreign = RSAKey.generate_key(2048)
    kid = stack.hub.keys.signing_set().keys[0].kid
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": kid}, _claims(stack), foreign)
    assert _status(stack, token)[0] == 401


@pytest.mark.parametrize("kid", ["unknown", "../../etc/passwd", "", 5, None])
def test_unknown_kid(stack, kid):
    _, payload, sig = _sign(stack, _claims(stack)).split(".")
    header = _b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode())
    token = f"{header}.{payload}.{sig}"
    status, problem = _status(stack, token)
    assert status == 401 and "unknown key" in problem["detail"]


@pytest.mark.parametrize("overrides,detail", [
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3900}, "future"),
    ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ({"iss": "https://evil.example"}, "issuer"),
    ({"aud": "another-api"}, "audience"),
    ({"org": None}, "types"),
])
def test_claims(stack, overrides, detail):
    status, problem = _status(stack, _sign(stack, _claims(stack, **overrides)))
    assert status == 401 and detail in problem["detail"]


def test_missing_claims(stack):
    claims = _claims(stack)
    del claims["org"]
    assert _status(stack, _sign(stack, claims))[0] == 401


def test_wrong_typ(stack):
    assert _status(stack, _sign(stack, _claims(stack), {"typ": "JWT"}))[0] == 401


def test_missing_scope_is_403(stack):
    token = stack.token("tj-paris", scope="feed:read")
    resp = stack.http.post("/v1/information-requests", json=example_request(),
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"})
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"


def test_auth_failures_are_counted(stack):
    _status(stack, "abc")
    metrics = stack.http.get("/metrics").text
    assert 'vigie_auth_failures_total{reason="malformed"}' in metrics


def test_a_disabled_clients_tokens_stop_within_seconds(stack):
    """Disabling a client refuses the tokens it already holds (not 15 minutes later)."""
    from services.organisations import service as organisations

    with stack.hub.db.transaction() as session:
        client, secret = organisations.add_client(session, "dgs")
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client.client_id, secret))
    token = resp.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert stack.http.get("/v1/information-requests", headers=headers).status_code == 200
    with stack.hub.db.transaction() as session:
        organisations.disable_client(session, client.client_id)
    deadline = time.monotonic() + 10
    while stack.http.get("/v1/information-requests", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "the disabled client's token still works"
        time.sleep(0.5)
    resp = stack.http.get("/v1/information-requests", headers=headers)
    assert resp.status_code == 401 and "disabled" in resp.json()["detail"]
