"""The authorization server: client credentials, RFC 9068 tokens, RFC 8414 metadata."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet


def _decode_segment(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_client_secret_basic_issues_an_rfc9068_token(stack):
    creds = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900
    assert resp.headers["cache-control"] == "no-store"
    token = body["access_token"]
    header = _decode_segment(token.split(".")[0])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]

    jwks = KeySet.import_key_set(stack.http.get("/.well-known/jwks.json").json())
    claims = jwt.decode(token, jwks, algorithms=["RS256"]).claims
    assert claims["iss"] == stack.settings.issuer
    # A token that may read a feed is also meant for the broker.
    assert claims["aud"] == [stack.settings.audience, stack.settings.kafka_audience]
    assert claims["sub"] == claims["client_id"] == creds["client_id"]
    assert claims["org"] == "tj-paris" and claims["org_type"] == "court"
    assert set(claims["scope"].split()) == set(creds["scopes"])
    assert claims["exp"] - claims["iat"] <= 900
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]


def test_client_secret_post_and_narrower_scope(stack):
    creds = stack.creds["miviludes"]
    resp = stack.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "scope": "feed:read"})
    assert resp.status_code == 200, resp.text
    claims = _decode_segment(resp.json()["access_token"].split(".")[1])
    assert claims["scope"] == "feed:read"
    narrow = stack.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "scope": "information-requests:read"})
    assert _decode_segment(narrow.json()["access_token"].split(".")[1])["aud"] == \
        stack.settings.audience


def test_scope_the_client_does_not_hold_is_invalid_scope(stack):
    creds = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                 "scope": "information-requests:respond"},
                           auth=(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"


def test_wrong_secret_and_unknown_client_are_invalid_client(stack):
    creds = stack.creds["tj-paris"]
    for auth in ((creds["client_id"], "wrong"), ("nobody", "secret")):
        resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=auth)
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"] == "invalid_client"
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert resp.status_code == 401


def test_other_grants_are_refused(stack):
    creds = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data={"grant_type": "password", "username": "a",
                                                 "password": "b"},
                           auth=(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 400
    # As RFC 6749 §5.2 words it (what OAuth libraries read), not as a problem.
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"] == "unsupported_grant_type", resp.text
    assert resp.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("form", [{}, {"grant_type": "client_credentials", "client_id": "x" * 65},
                                  {"grant_type": "client_credentials",
                                   "client_assertion_type": "urn:other"},
                                  {"grant_type": "client_credentials", "client_secret": "x" * 201}])
def test_a_form_the_contract_refuses_is_an_invalid_request(stack, form):
    creds = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data=form,
                           auth=(creds["client_id"], creds["client_secret"]))
    assert (resp.status_code, resp.headers["content-type"]) == (400, "application/json")
    assert resp.json()["error"] == "invalid_request" and resp.json()["error_description"]
    # Named, never echoed: a mistyped secret is not sent back (nor logged).
    assert "xxxxxxxxxx" not in resp.text


def test_parameters_the_contract_does_not_name_are_ignored(stack):
    """RFC 6749 §3.2: the server ignores what it does not recognise."""
    creds = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                 "resource": "https://vigie.example"},
                           auth=(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 200, resp.text


def test_secrets_are_stored_hashed(stack):
    from services.organisations.models import Client

    creds = stack.creds["tj-paris"]
    with stack.hub.db.sessions() as session:
        stored = [s.secret_hash for s in session.get(Client, creds["client_id"]).secrets]
    assert stored and all(creds["client_secret"] not in h and h.startswith("scrypt$")
                          for h in stored)


def test_metadata_and_jwks(stack):
    meta = stack.http.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == stack.settings.issuer
    assert meta["token_endpoint"].endswith("/oauth/token")
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt"}
    keys = stack.http.get("/.well-known/jwks.json").json()["keys"]
    assert keys and all("d" not in k and "p" not in k for k in keys)
