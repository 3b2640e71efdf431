"""The item's record as a PDF for the case file: in French, complete, sealed by the hub,
and the seal verified by pyHanko's validator against the hub's certificate."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from pypdf import PdfReader

from services.config import ROOT
from services.records.seal import seal_files, verify
from tests.conftest import example_for, example_notification
from tests.services.documents.test_documents import uploaded


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_record_lists_everything_and_its_seal_validates(stack, tmp_path):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    doc = uploaded(prosecution, title="Jugement correctionnel")
    item = prosecution.post("/v1/order-notifications",
                            example_notification(documents=[{"id": doc["id"]}])).json()
    order.wait_delivered(item["id"])
    assert order.post(f"/v1/order-notifications/{item['id']}/acknowledgement",
                      {"reference": "DISC-42"}).status_code == 201
    resp = order.get(f"/v1/order-notifications/{item['id']}/record.pdf")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    pdf = resp.content
    text = _text(pdf)
    for expected in ("Relevé d'échange Vigie", item["id"], "art. 11-3", "Parquet de Paris",
                     "Conseil national de l'ordre des pharmaciens", "acknowledgement",
                     "DISC-42", "Jugement correctionnel", doc["sha256"][:32], "Moreau",
                     "Point de contrôle signé", "heure de Paris"):
        assert expected in text.replace("\n", " ") or expected in text, expected
    evidence = order.get(f"/v1/order-notifications/{item['id']}/evidence").json()
    for record in evidence["evidence"]:
        assert record["claims"]["jti"] in text

    _, cert, _ = seal_files(stack.settings)
    status = verify(pdf, cert)
    assert status["sealed"] and status["intact"] and status["valid"] and status["trusted"]
    assert status["covers_whole_document"]
    assert "Cachet Vigie" in status["signer"]
    # One byte changed in the sealed content: the seal no longer holds.
    at = pdf.index(b"/Contents") - 40
    tampered = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]
    try:
        broken = verify(tampered, cert)
    except Exception:  # noqa: BLE001 - a damaged file may not even parse
        broken = {"intact": False}
    assert not broken.get("intact")
    # The command line checks it too (exit 0 sealed and trusted, 1 otherwise).
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([sys.executable, "-m", "services.cli", "evidence", "verify",
                           str(path), "--seal-cert", str(cert)], capture_output=True,
                          text=True, cwd=ROOT, env={"VIGIE_STATE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trusted" in done.stdout
    other = tmp_path / "other-cert.pem"
    from services.records.seal import _generate
    _generate(tmp_path / "other", tmp_path / "other" / "k.pem", other, "https://ailleurs")
    done = subprocess.run([sys.executable, "-m", "services.cli", "evidence", "verify",
                           str(path), "--seal-cert", str(other)], capture_output=True,
                          text=True, cwd=ROOT, env={"VIGIE_STATE_DIR": str(tmp_path)})
    assert done.returncode == 1, done.stdout + done.stderr


@pytest.mark.parametrize("exchange", ["information-requests", "content-notices",
                                      "suspension-orders"])
def test_every_exchange_prints_a_record_for_its_parties_only(stack, exchange):
    sender_id, body = example_for(exchange)
    sender = stack.api(sender_id)
    item = sender.post(f"/v1/{exchange}", body)
    assert item.status_code == 201, item.text
    item = item.json()
    recipient = stack.api(item["recipient"])
    recipient.wait_delivered(item["id"])
    for party in (sender, recipient):
        resp = party.get(f"/v1/{exchange}/{item['id']}/record.pdf")
        assert resp.status_code == 200, resp.text
        assert verify(resp.content, seal_files(stack.settings)[1])["trusted"]
    for stranger in ("cnom", "pr-lyon", "plateforme-gamma", "arcom"):
        if stranger in (sender_id, item["recipient"]) or stranger not in stack.creds:
            continue
        resp = stack.api(stranger).get(f"/v1/{exchange}/{item['id']}/record.pdf")
        assert resp.status_code == 404, (stranger, resp.status_code)
