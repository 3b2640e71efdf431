"""Signed evidence for every step, visible to the two parties, verifiable offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from services.evidence import service as evidence
from tests.conftest import example_request


def _steps(api, item_id: str) -> list[str]:
    resp = api.get(f"/v1/information-requests/{item_id}/evidence")
    assert resp.status_code == 200, resp.text
    return [e["step"] for e in resp.json()["evidence"]]


def test_every_step_is_signed_and_bound(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])       # reading the feed: first retrieval
    miviludes.get(f"/v1/information-requests/{item['id']}")  # a second read: no new record
    miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement", {})
    miviludes.post(f"/v1/information-requests/{item['id']}/answer", {"text": "Réponse."})
    refused = miviludes.post(f"/v1/information-requests/{item['id']}/answer", {"text": "2"})
    assert refused.status_code == 409
    records = court.get(f"/v1/information-requests/{item['id']}/evidence").json()["evidence"]
    assert [r["step"] for r in records] == ["submitted", "delivered", "retrieved",
                                            "acknowledged", "answered", "rejected"]
    keys = KeySet.import_key_set(stack.http.get("/.well-known/jwks.json").json())
    digests = set()
    # The submission and its delivery are sealed by one signature (one commit).
    assert records[0]["jws"] == records[1]["jws"]
    for record in records:
        head = jwt.decode(record["jws"], keys, algorithms=["RS256"])
        assert head.header["typ"] == "vigie-evidence-batch+jwt"
        assert head.claims["size"] == record["proof"]["tree_size"]
        claims = evidence.verify_record(record, keys)
        forged = {**record, "claims": {**record["claims"], "recipient": "dgs"}}
        with pytest.raises(ValueError):
            evidence.verify_record(forged, keys)
        assert (claims["item"], claims["sender"], claims["recipient"]) == (
            item["id"], "tj-paris", "miviludes")
        assert claims["iss"] == stack.settings.issuer
        digests.add(claims["message_digest"])
    assert len(digests) == 1  # every record binds the same message
    assert "refused (409)" in records[-1]["claims"]["detail"]
    assert records[3]["claims"]["step_digest"].startswith("sha256:")


def test_only_the_parties_see_evidence(stack):
    item = stack.api("tj-paris").post("/v1/information-requests", example_request()).json()
    stack.api("miviludes").wait_delivered(item["id"])
    assert _steps(stack.api("miviludes"), item["id"])[0] == "submitted"
    for org in ("dgs", "tj-lyon", "arcom", "exploitation", "plateforme-alpha"):
        assert stack.api(org).get(
            f"/v1/information-requests/{item['id']}/evidence").status_code == 404, org


def test_export_and_offline_verification(stack, tmp_path):
    court, miviludes = stack.api("pr-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])
    miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement", {})
    env = {**os.environ, "VIGIE_DATABASE_URL": stack.settings.database_url,
           "VIGIE_STATE_DIR": str(stack.settings.state_dir)}
    bundle_file = tmp_path / "bundle.json"
    run = [sys.executable, "-m", "services.cli", "evidence"]
    exported = subprocess.run([*run, "export", item["id"], "-o", str(bundle_file)], env=env,
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    bundle = json.loads(bundle_file.read_text())
    assert bundle["item"] == item["id"] and len(bundle["evidences"]) >= 3
    assert all("d" not in k for k in bundle["jwks"]["keys"])  # public keys only
    # Offline: no database in the environment.
    offline = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    offline["VIGIE_DATABASE_URL"] = "sqlite:////nonexistent/never-opened.db"
    verified = subprocess.run([*run, "verify", str(bundle_file)], env=offline,
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "evidence bundle verified" in verified.stdout

    first = bundle["evidences"][0]
    for tampered_record in (
            {**first, "claims": {**first["claims"], "at": "2020-01-01T00:00:00+00:00"}},
            {**first, "proof": {**first["proof"], "leaf_index": 1}},
            {**first, "jws": first["jws"][:-4] + "AAAA"}):
        ok, lines = evidence.verify_bundle(
            {**bundle, "evidences": [tampered_record, *bundle["evidences"][1:]]})
        assert not ok and lines[0].startswith("1. FAILED"), lines
    other = {**bundle, "message_digest": "sha256:" + "0" * 64}
    ok, lines = evidence.verify_bundle(other)
    assert not ok and "binds another message" in lines[0]
    assert evidence.verify_bundle({**bundle, "jwks": {"keys": []}})[0] is False
