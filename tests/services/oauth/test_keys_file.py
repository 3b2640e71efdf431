"""Signing keys from a mounted secret (VIGIE_SIGNING_KEYS_FILE): tokens and evidence are
signed with the file's active key, the JWKS publishes its next, active and recent keys,
and a rotation is an edit of the file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from services.oauth.keys import new_private_jwk
from services.oauth.tokens import decode_segment
from tests.conftest import build_stack, stop_consumers


def _kid_of(token: str) -> str:
    return decode_segment(token.split(".")[0])["kid"]


def test_keys_from_a_file(broker, database_factory, tmp_path):
    first, second = new_private_jwk(), new_private_jwk()
    old = new_private_jwk()
    keys_file = tmp_path / "signing-keys.json"
    keys_file.write_text(json.dumps({"keys": [
        dict(first, state="active"),
        dict(old, state="retired", retired_at=(datetime.now(UTC) - timedelta(days=1)).isoformat()),
    ]}))
    stack = build_stack("sqlite", database_factory("sqlite"), tmp_path / "state",
                        run_consumers=False, VIGIE_SIGNING_KEYS_FILE=str(keys_file))
    try:
        assert _kid_of(stack.token("tj-paris")) == first["kid"]
        jwks = stack.http.get("/.well-known/jwks.json").json()
        # Long-retired keys are no longer published; no private member ever is.
        assert [k["kid"] for k in jwks["keys"]] == [first["kid"]]
        assert all("d" not in k for k in jwks["keys"])

        keys_file.write_text(json.dumps({"keys": [dict(first, state="active"),
                                                  dict(second, state="next")]}))
        stack.hub.keys.reload()
        published = {k["kid"] for k in stack.http.get("/.well-known/jwks.json").json()["keys"]}
        assert published == {first["kid"], second["kid"]}
        assert _kid_of(stack.api("miviludes").token) == first["kid"]

        keys_file.write_text(json.dumps({"keys": [
            dict(first, state="retired", retired_at=datetime.now(UTC).isoformat()),
            dict(second, state="active")]}))
        stack.hub.keys.reload()
        assert _kid_of(stack.token("dgs")) == second["kid"]
        # A token signed with the retired key stays valid until it expires.
        assert stack.api("tj-paris").get("/v1/feed").status_code == 200
    finally:
        stop_consumers(stack)

    env = {"VIGIE_SIGNING_KEYS_FILE": str(keys_file), "VIGIE_STATE_DIR": str(tmp_path / "state"),
           "VIGIE_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'x.db'}", "PATH": "/usr/bin"}
    refused = subprocess.run([sys.executable, "-m", "services.cli", "keys", "rotate"], env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "rotate them in the secret" in refused.stderr
    generated = subprocess.run([sys.executable, "-m", "services.cli", "keys", "generate"],
                               env=env, capture_output=True, text=True)
    entry = json.loads(generated.stdout)
    assert entry["state"] == "next" and entry["kty"] == "RSA" and "d" in entry
