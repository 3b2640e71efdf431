"""Tokens from a trusted external identity provider: accepted when signed by a key of
its JWKS (served over HTTP) for its own issuer, refused otherwise."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.config import Settings
from tests.conftest import build_stack, example_request, stop_consumers

ISSUER = "https://idp.justice.example/realms/vigie"


class JWKS:
    def __init__(self):
        self.keys = {"idp-1": RSAKey.generate_key(2048)}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                body = json.dumps({"keys": [dict(k.as_dict(private=False), kid=kid, use="sig")
                                            for kid, k in outer.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"


@pytest.fixture(scope="module")
def idp():
    served = JWKS()
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def xstack(broker, database_factory, tmp_path_factory, idp):
    s = build_stack("postgresql", database_factory("postgresql"),
                    tmp_path_factory.mktemp("idp"), run_consumers=False,
                    VIGIE_EXTERNAL_JWKS_URL=idp.url, VIGIE_EXTERNAL_ISSUER=ISSUER)
    yield s
    stop_consumers(s)


def _token(key: RSAKey, kid: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "vigie-api", "sub": "case-system-paris",
            "client_id": "case-system-paris", "org": "tj-paris", "org_type": "court",
            "iat": now, "exp": now + 300, "jti": "e1",
            "scope": "information-requests:submit information-requests:read", **claims}
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": kid}, body, key)


def _submit(stack, token: str):
    return stack.http.post("/v1/information-requests", json=example_request(),
                           headers={"Authorization": f"Bearer {token}",
                                    "Idempotency-Key": f"x-{time.time_ns()}"})


def test_a_token_of_the_external_provider_is_accepted(xstack, idp):
    resp = _submit(xstack, _token(idp.keys["idp-1"], "idp-1"))
    assert resp.status_code == 201, resp.text
    read = xstack.http.get(f"/v1/information-requests/{resp.json()['id']}",
                           headers={"Authorization": f"Bearer {xstack.token('tj-paris')}"})
    assert read.status_code == 200 and read.json()["sender"] == "tj-paris"


def test_its_keys_vouch_only_for_its_issuer(xstack, idp):
    # The external key cannot mint tokens in the hub's own name.
    as_hub = _token(idp.keys["idp-1"], "idp-1", iss=xstack.settings.issuer)
    assert _submit(xstack, as_hub).status_code == 401
    # Another key under the provider's kid is a bad signature.
    assert _submit(xstack, _token(RSAKey.generate_key(2048), "idp-1")).status_code == 401
    assert _submit(xstack, _token(idp.keys["idp-1"], "idp-1", aud="other")).status_code == 401


@pytest.mark.parametrize("claims,why", [
    ({"org": "tj-nowhere"}, "organisation the hub does not know"),
    ({"org_type": "regulator"}, "type is not the organisation's"),
    ({"scope": "information-requests:submit oversight:read"}, "may not hold"),
    ({"exp": int(time.time()) + 86400}, "longer than 15 minutes"),
])
def test_its_claims_are_bounded_by_the_registry(xstack, idp, claims, why):
    """The provider vouches for who is calling, not for what the hub lets them do."""
    resp = _submit(xstack, _token(idp.keys["idp-1"], "idp-1", jti=f"b{time.time_ns()}",
                                  **claims))
    assert resp.status_code == 401, resp.text
    assert why in resp.json()["detail"]


def test_a_new_key_of_the_provider_is_picked_up(xstack, idp):
    idp.keys["idp-2"] = RSAKey.generate_key(2048)
    token = _token(idp.keys["idp-2"], "idp-2")
    assert _submit(xstack, token).status_code == 401  # unknown yet: refused, refresh asked
    deadline = time.monotonic() + 30
    while _submit(xstack, token).status_code != 201:
        assert time.monotonic() < deadline, "the new key was never fetched"
        time.sleep(1)


def test_both_settings_are_required():
    with pytest.raises(ValueError, match="VIGIE_EXTERNAL_ISSUER"):
        Settings.from_env({"VIGIE_EXTERNAL_JWKS_URL": "https://idp.example/jwks.json"})
