"""private_key_jwt (RFC 7523): a client registers public keys and signs its token
requests; its private key never leaves it. Against the real token endpoint, on both
databases: each assertion once, for this hub, short-lived, signed by a key of its own."""

from __future__ import annotations

import time
import uuid

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from services.oauth.tokens import decode_segment
from services.organisations import service as organisations

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _client(stack) -> tuple[str, dict[str, str]]:
    """A new client of the DGS and the headers of a token it got with its secret."""
    with stack.hub.db.transaction() as session:
        client, secret = organisations.add_client(session, "dgs")
        client_id = client.client_id
    token = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(client_id, secret)).json()["access_token"]
    return client_id, {"Authorization": f"Bearer {token}"}


def _assertion(stack, client_id: str, key, alg: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": stack.settings.public_url +
            "/oauth/token", "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": alg, "kid": key.thumbprint()}, {**body, **claims}, key,
                      algorithms=[alg])


def _login(stack, assertion: str, **form):
    return stack.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION,
        "client_assertion": assertion, **form})


def test_a_client_signs_its_token_requests_with_its_own_keys(stack):
    client_id, headers = _client(stack)
    ec = ECKey.generate_key("P-256")
    added = stack.http.post("/v1/clients/self/keys", headers=headers,
                            json={"jwk": ec.as_dict(private=False)})
    assert added.status_code == 201, added.text
    assert added.json()["jwk"]["kid"] == ec.thumbprint()
    assert added.headers["location"] == f"/v1/clients/self/keys/{added.json()['id']}"

    signed = _assertion(stack, client_id, ec, "ES256")
    issued = _login(stack, signed)
    assert issued.status_code == 200, issued.text
    # The hub's own token, as any other: checked with its published keys.
    access = issued.json()["access_token"]
    kid = decode_segment(access.split(".")[0])["kid"]
    claims = jwt.decode(access, stack.hub.keys.public_key(kid)).claims
    assert claims["client_id"] == client_id and claims["org"] == "dgs"
    # The same assertion twice: refused (replay), even with the client id in the form.
    replayed = _login(stack, signed, client_id=client_id)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"

    # A second key (RSA), then the first revoked: only the second signs from then on.
    rsa = RSAKey.generate_key(2048)
    second = stack.http.post("/v1/clients/self/keys", headers=headers,
                             json={"jwk": rsa.as_dict(private=False)})
    assert second.status_code == 201, second.text
    third = stack.http.post("/v1/clients/self/keys", headers=headers,
                            json={"jwk": OKPKey.generate_key("Ed25519").as_dict(private=False)})
    assert third.status_code == 409
    listed = stack.http.get("/v1/clients/self/keys", headers=headers).json()
    assert [k["id"] for k in listed["items"]] == [added.json()["id"], second.json()["id"]]
    assert stack.http.delete(f"/v1/clients/self/keys/{added.json()['id']}",
                             headers=headers).status_code == 204
    assert _login(stack, _assertion(stack, client_id, ec, "ES256")).status_code == 401
    assert _login(stack, _assertion(stack, client_id, rsa, "PS256")).status_code == 200

    # With a key, the client may drop its last secret; then not its last key.
    secrets = stack.http.get("/v1/clients/self/secrets", headers=headers).json()["items"]
    assert stack.http.delete(f"/v1/clients/self/secrets/{secrets[0]['id']}",
                             headers=headers).status_code == 204
    assert stack.http.delete(f"/v1/clients/self/keys/{second.json()['id']}",
                             headers=headers).status_code == 409
    assert _login(stack, _assertion(stack, client_id, rsa, "RS256")).status_code == 200


def test_assertions_that_must_be_refused(stack):
    client_id, headers = _client(stack)
    key = ECKey.generate_key("P-256")
    assert stack.http.post("/v1/clients/self/keys", headers=headers,
                           json={"jwk": key.as_dict(private=False)}).status_code == 201
    other_id, _ = _client(stack)
    stranger = ECKey.generate_key("P-256")
    secret = OctKey.generate_key(256)
    now = int(time.time())
    refused = {
        "another audience": _assertion(stack, client_id, key, "ES256",
                                       aud="https://elsewhere.example/token"),
        "expired": _assertion(stack, client_id, key, "ES256", iat=now - 600, exp=now - 300),
        "living too long": _assertion(stack, client_id, key, "ES256", exp=now + 3600),
        "without jti": _assertion(stack, client_id, key, "ES256", jti=None),
        "iss is not sub": _assertion(stack, client_id, key, "ES256", iss=other_id),
        "a key not registered": _assertion(stack, client_id, stranger, "ES256"),
        "for another client": _assertion(stack, other_id, key, "ES256"),
        "an HMAC with a shared secret": _assertion(stack, client_id, secret, "HS256"),
        "an unknown client": _assertion(stack, "nobody-at-all", key, "ES256"),
    }
    refused["unsigned"] = refused["expired"].rsplit(".", 1)[0] + "."
    refused["not a JWT"] = "not.a.jwt"
    for why, assertion in refused.items():
        answer = _login(stack, assertion)
        assert answer.status_code in (400, 401), (why, answer.status_code, answer.text)
        assert answer.json()["error"] in ("invalid_client", "invalid_request"), why
    assert _login(stack, _assertion(stack, client_id, key, "ES256")).status_code == 200


def test_only_public_keys_the_hub_accepts_are_registered(stack):
    _, headers = _client(stack)
    cases = {
        "a private key": (ECKey.generate_key("P-256").as_dict(private=True), {"jwk"}),
        "a short RSA key": (RSAKey.generate_key(1024).as_dict(private=False), {"jwk.n"}),
        "a curve not accepted": (ECKey.generate_key("secp256k1").as_dict(private=False),
                                 {"jwk.crv"}),
        "a shared secret": ({"kty": "oct", "k": "c2VjcmV0"}, {"jwk", "jwk.kty"}),
        "an encryption key": ({**ECKey.generate_key("P-256").as_dict(private=False),
                               "use": "enc"}, {"jwk.use"}),
        "a broken key": ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, {"jwk"}),
    }
    for why, (jwk, fields) in cases.items():
        answer = stack.http.post("/v1/clients/self/keys", headers=headers, json={"jwk": jwk})
        assert answer.status_code == 422, (why, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in answer.json()["errors"]} & fields, (why, answer.json())
    listed = stack.http.get("/v1/clients/self/keys", headers=headers).json()
    assert listed == {"items": [], "max": 2}


def test_the_metadata_names_private_key_jwt(stack):
    metadata = stack.http.get("/.well-known/oauth-authorization-server").json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert "HS256" not in metadata["token_endpoint_auth_signing_alg_values_supported"]
