"""Evidence of every step, as leaves of the verifiable log: visible to the two parties,
exported as a bundle that verifies offline against pinned keys only — and refused, with
the reason, when forged or altered."""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.config import ROOT
from services.verifiable_log import keys as log_keys
from services.verifiable_log import tree, verifier
from tests.conftest import (
    build_stack,
    example_answer,
    example_request,
    request_from,
    stop_consumers,
)

VERIFIER = ROOT / "services" / "verifiable_log" / "verifier.py"


def _steps(api, item_id: str) -> list[str]:
    resp = api.get(f"/v1/information-requests/{item_id}/evidence")
    assert resp.status_code == 200, resp.text
    return [e["step"] for e in resp.json()["evidence"]]


def pinned(stack) -> verifier.KeySet:
    resp = stack.http.get("/.well-known/vigie-log-keys.json")
    assert resp.status_code == 200
    return verifier.KeySet(resp.json())


def test_every_step_is_logged_and_bound(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])       # reading the feed: first retrieval
    miviludes.get(f"/v1/information-requests/{item['id']}")  # a second read: no new record
    miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement", {})
    miviludes.post(f"/v1/information-requests/{item['id']}/answer", example_answer())
    refused = miviludes.post(f"/v1/information-requests/{item['id']}/answer",
                             example_answer(text="2"))
    assert refused.status_code == 409
    listed = court.get(f"/v1/information-requests/{item['id']}/evidence").json()
    records = listed["evidence"]
    assert [r["step"] for r in records] == ["submitted", "delivered", "retrieved",
                                            "acknowledged", "answered", "rejected"]
    checkpoint = verifier.Checkpoint(listed["checkpoint"]["note"])
    pinned(stack).verify(checkpoint)
    assert checkpoint.size == listed["checkpoint"]["size"]
    digests = set()
    for record in records:
        leaf = verifier.leaf_hash(verifier.canonical(record["claims"]))
        path = [base64.b64decode(h) for h in record["inclusion"]]
        assert verifier.root_from_inclusion(record["leaf_index"], checkpoint.size, leaf,
                                            path) == checkpoint.root
        forged = verifier.leaf_hash(verifier.canonical({**record["claims"],
                                                        "recipient": "dgs"}))
        assert verifier.root_from_inclusion(record["leaf_index"], checkpoint.size, forged,
                                            path) != checkpoint.root
        claims = record["claims"]
        assert (claims["item"], claims["sender"], claims["recipient"]) == (
            item["id"], "tj-paris", "miviludes")
        assert claims["iss"] == stack.settings.issuer
        digests.add(claims["message_digest"])
    assert len(digests) == 1  # every record binds the same message
    assert "refused (409)" in records[-1]["claims"]["detail"]
    assert records[3]["claims"]["step_digest"].startswith("sha256:")
    # The submission and its delivery were committed together: consecutive leaves.
    assert records[1]["leaf_index"] == records[0]["leaf_index"] + 1


def test_only_the_parties_see_evidence(stack):
    item = stack.api("tj-paris").post("/v1/information-requests", example_request()).json()
    stack.api("miviludes").wait_delivered(item["id"])
    assert _steps(stack.api("miviludes"), item["id"])[0] == "submitted"
    for org in ("dgs", "tj-lyon", "arcom", "exploitation", "plateforme-alpha"):
        assert stack.api(org).get(
            f"/v1/information-requests/{item['id']}/evidence").status_code == 404, org


# --- bundles ---------------------------------------------------------------------------------

def _env(stack) -> dict:
    return {**os.environ, "VIGIE_DATABASE_URL": stack.settings.database_url,
            "VIGIE_STATE_DIR": str(stack.settings.state_dir),
            "VIGIE_PUBLIC_URL": stack.settings.public_url,
            "VIGIE_ISSUER": stack.settings.issuer,
            **({"VIGIE_LOG_KEYS_FILE": stack.settings.log_keys_file}
               if stack.settings.log_keys_file else {})}


def export(stack, item_id: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "services.cli", "evidence", "export",
                           item_id, "-o", str(path)], env=_env(stack), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(path.read_text())


def standalone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The verifier file alone, copied away from the repository, in isolated mode: it
    cannot import the hub's code, and must not need to."""
    copy_dir = tmp_path / "verifier"
    copy_dir.mkdir(exist_ok=True)
    shutil.copy(VERIFIER, copy_dir / "verifier.py")
    probe = ("import runpy, sys\n"
             f"sys.argv = ['verifier.py', *{list(args)!r}]\n"
             "try:\n    runpy.run_path('verifier.py', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             "assert not [m for m in sys.modules if m.split('.')[0] in "
             "('services', 'schemas', 'consumers')], 'imported the hub'\n"
             "sys.exit(code)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    return subprocess.run([sys.executable, "-I", "-c", probe], cwd=copy_dir, env=env,
                          capture_output=True, text=True, timeout=60)


def _submitted(stack, court: str = "pr-paris") -> str:
    item = stack.api(court).post("/v1/information-requests", request_from(court)).json()
    stack.api("miviludes").wait_delivered(item["id"])
    stack.api("miviludes").post(f"/v1/information-requests/{item['id']}/acknowledgement", {})
    return item["id"]


def test_a_bundle_verifies_offline_against_pinned_keys_only(stack, tmp_path):
    item_id = _submitted(stack)
    bundle = export(stack, item_id, tmp_path / "bundle.json")
    assert bundle["format"] == "vigie-evidence-bundle/3" and len(bundle["records"]) >= 3
    keys_file = tmp_path / "vigie-log-keys.json"
    keys_file.write_text(stack.http.get("/.well-known/vigie-log-keys.json").text)
    ok = standalone(tmp_path, "bundle", str(tmp_path / "bundle.json"), "--keys",
                    str(keys_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "evidence bundle verified" in ok.stdout
    # The hub's own command runs the same verifier and insists on a pinned key.
    cli = [sys.executable, "-m", "services.cli", "evidence", "verify",
           str(tmp_path / "bundle.json")]
    offline = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    assert subprocess.run(cli, env=offline, capture_output=True, timeout=60).returncode == 2
    by_fingerprint = subprocess.run(
        [*cli, "--fingerprint", bundle["keys"]["keys"][-1]["fingerprint"]], env=offline,
        capture_output=True, text=True, timeout=60)
    assert by_fingerprint.returncode == 0, by_fingerprint.stdout

    other = export(stack, _submitted(stack, "tj-paris"), tmp_path / "other.json")
    forged_key = Ed25519PrivateKey.generate()
    cases = {
        "one claim changed": _changed(bundle),
        "a proof hash removed": _proof_shortened(bundle),
        "another item's record": _with_record_of(bundle, other),
        "another message": {**bundle, "message_digest": "sha256:" + "0" * 64},
        "self-signed forgery": _forged(bundle, forged_key),
        "checkpoint text edited": _note_edited(bundle),
    }
    expected = {
        "one claim changed": "is not in the log",
        "a proof hash removed": "shorter than the tree needs",
        "another item's record": "about another item",
        "another message": "binds another message",
        "self-signed forgery": "not signed by any pinned key",
        "checkpoint text edited": "signature is not valid",
    }
    for name, tampered in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(tampered))
        refused = standalone(tmp_path, "bundle", str(path), "--keys", str(keys_file))
        assert refused.returncode == 1, (name, refused.stdout)
        assert expected[name] in refused.stdout, (name, refused.stdout)
    # Pinning by fingerprint does not let the forger's key in, even though the forged
    # bundle carries it in its own key history.
    forged_path = tmp_path / "self-signed forgery.json"
    genuine = bundle["keys"]["keys"][-1]["fingerprint"]
    refused = standalone(tmp_path, "bundle", str(forged_path), "--fingerprint", genuine)
    assert refused.returncode == 1 and "not signed by any pinned key" in refused.stdout


def _changed(bundle: dict) -> dict:
    out = copy.deepcopy(bundle)
    out["records"][0]["claims"]["at"] = "2020-01-01T00:00:00+00:00"
    return out


def _proof_shortened(bundle: dict) -> dict:
    out = copy.deepcopy(bundle)
    out["records"][0]["inclusion"] = out["records"][0]["inclusion"][:-1]
    return out


def _with_record_of(bundle: dict, other: dict) -> dict:
    out = copy.deepcopy(bundle)
    # A genuine record with its genuine proof, of another item.
    out["records"][1] = other["records"][1]
    return out


def _note_edited(bundle: dict) -> dict:
    out = copy.deepcopy(bundle)
    lines = out["checkpoint"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    out["checkpoint"] = "\n".join(lines)
    return out


def _forged(bundle: dict, key: Ed25519PrivateKey) -> dict:
    """Claims rewritten (another recipient, another time), a new tree over them and a
    checkpoint signed with a freshly made key that the bundle carries in its key set."""
    out = copy.deepcopy(bundle)
    for r in out["records"]:
        r["claims"]["recipient"] = "dgs"
        r["claims"]["at"] = "2020-01-01T00:00:00+00:00"
    leaves = [verifier.leaf_hash(verifier.canonical(r["claims"])) for r in out["records"]]
    store: dict = {}
    frontier = tree.Frontier(0, [])
    for level, index, h in frontier.append(leaves):
        store[(level, index)] = h

    def fetch(wanted):
        return {k: store[k] for k in wanted}

    for i, r in enumerate(out["records"]):
        r["leaf_index"] = i
        r["inclusion"] = [base64.b64encode(h).decode()
                          for h in tree.inclusion_proof(i, len(leaves), fetch)]
    origin = bundle["keys"]["origin"]
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signer = log_keys.SigningKey(origin, key, verifier.key_id(origin, public),
                                 datetime(2019, 1, 1, tzinfo=UTC), None)
    text = (f"{origin}\n{len(leaves)}\n{base64.b64encode(frontier.root()).decode()}\n"
            f"audit 1 sha256:{'0' * 64}\ntime 2020-01-02T00:00:00+00:00\n")
    out["checkpoint"] = signer.sign(text)
    out["keys"]["keys"].append({"name": origin, "key_id": signer.key_id.hex(),
                                "public_key": base64.b64encode(public).decode(),
                                "fingerprint": verifier.fingerprint(public),
                                "valid_from": "2019-01-01T00:00:00+00:00", "valid_until": None})
    return out


def test_bundles_verify_across_two_key_rotations(stack, tmp_path):
    first = export(stack, _submitted(stack), tmp_path / "first.json")
    for _ in range(2):
        with stack.hub.db.transaction() as session:
            log_keys.rotate(session, stack.settings.log_origin)
        stack.hub.log_keys.reload()
        _submitted(stack)
    later = export(stack, _submitted(stack), tmp_path / "later.json")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(stack.http.get("/.well-known/vigie-log-keys.json").text)
    history = json.loads(keys_file.read_text())["keys"]
    assert len(history) >= 3 and sum(1 for k in history if k["valid_until"] is None) == 1
    signed_by = {verifier.Checkpoint(b["checkpoint"]).signatures[0][1].hex()
                 for b in (first, later)}
    assert len(signed_by) == 2, "the two bundles were signed by different keys"
    for name in ("first.json", "later.json"):
        done = standalone(tmp_path, "bundle", str(tmp_path / name), "--keys", str(keys_file))
        assert done.returncode == 0, done.stdout
    # A key used outside its window is refused: pretend the first key had ended earlier.
    narrowed = json.loads(keys_file.read_text())
    for k in narrowed["keys"]:
        k["valid_until"] = k["valid_until"] or "2100-01-01T00:00:00+00:00"
        if k["key_id"] == next(iter(signed_by - {verifier.Checkpoint(
                later["checkpoint"]).signatures[0][1].hex()})):
            k["valid_until"] = "2000-01-01T00:00:00+00:00"
    (tmp_path / "narrowed.json").write_text(json.dumps(narrowed))
    refused = standalone(tmp_path, "bundle", str(tmp_path / "first.json"), "--keys",
                         str(tmp_path / "narrowed.json"))
    assert refused.returncode == 1 and "outside its validity" in refused.stdout


@pytest.fixture
def file_keys_stack(broker, database_factory, tmp_path):
    keys_file = tmp_path / "log-keys.json"
    keys_file.write_text(json.dumps({"keys": [
        {"private_key": log_keys.new_seed(), "valid_from": "2026-01-01T00:00:00+00:00",
         "valid_until": "2026-06-01T00:00:00+00:00"},
        {"private_key": log_keys.new_seed(), "valid_from": "2026-05-31T00:00:00+00:00"}]}))
    s = build_stack("postgresql", database_factory("postgresql"), tmp_path / "state",
                    VIGIE_LOG_KEYS_FILE=str(keys_file))
    yield s
    stop_consumers(s)
    s.hub.stop()
    s.hub.db.engine.dispose()


def test_keys_from_a_file_sign_and_export(file_keys_stack, tmp_path):
    stack = file_keys_stack
    from sqlalchemy import func, select

    from services.verifiable_log.models import LogKey, LogSigningKey
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LogSigningKey)) == 0
        assert session.scalar(select(func.count()).select_from(LogKey)) == 2  # archived
    bundle = export(stack, _submitted(stack), tmp_path / "bundle.json")
    assert len(bundle["keys"]["keys"]) == 2
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(stack.http.get("/.well-known/vigie-log-keys.json").text)
    done = standalone(tmp_path, "bundle", str(tmp_path / "bundle.json"), "--keys",
                      str(keys_file))
    assert done.returncode == 0, done.stdout


def test_listings_are_paged_and_refusals_bounded(stack):
    from services.exchanges.service import MAX_REJECTIONS

    item_id = _submitted(stack)
    miviludes = stack.api("miviludes")
    for _ in range(MAX_REJECTIONS + 5):  # acknowledged already: each is refused (409)
        refused = miviludes.post(f"/v1/information-requests/{item_id}/acknowledgement", {})
        assert refused.status_code == 409
    court = stack.api("pr-paris")
    whole = court.get(f"/v1/information-requests/{item_id}/evidence", limit=200).json()
    steps = [r["step"] for r in whole["evidence"]]
    assert steps.count("rejected") == MAX_REJECTIONS and whole["next"] is None
    paged, after = [], None
    while True:
        page = court.get(f"/v1/information-requests/{item_id}/evidence", limit=7,
                         **({"after": after} if after is not None else {})).json()
        assert len(page["evidence"]) <= 7
        paged += page["evidence"]
        after = page["next"]
        if after is None:
            break
    assert [r["leaf_index"] for r in paged] == [r["leaf_index"] for r in whole["evidence"]]
    bad = court.get(f"/v1/information-requests/{item_id}/evidence", limit=0)
    assert bad.status_code == 400


def test_a_party_fetches_its_bundle_and_verifies_it_from_scratch(stack, tmp_path):
    """A court's IT: the pinned key set once, then any answer's bundle, over the API."""
    item_id = _submitted(stack, "tj-paris")
    keys_file = tmp_path / "vigie-log-keys.json"
    keys_file.write_text(stack.http.get("/.well-known/vigie-log-keys.json").text)
    resp = stack.api("tj-paris").get(f"/v1/information-requests/{item_id}/evidence/bundle")
    assert resp.status_code == 200, resp.text
    (tmp_path / "bundle.json").write_text(resp.text)
    done = standalone(tmp_path, "bundle", str(tmp_path / "bundle.json"), "--keys",
                      str(keys_file))
    assert done.returncode == 0 and "evidence bundle verified" in done.stdout, done.stdout
    assert stack.api("miviludes").get(
        f"/v1/information-requests/{item_id}/evidence/bundle").status_code == 200
    for org in ("dgs", "arcom", "tj-lyon"):
        assert stack.api(org).get(
            f"/v1/information-requests/{item_id}/evidence/bundle").status_code == 404
