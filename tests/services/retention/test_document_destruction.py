"""Documents destroyed with their item: by an erasing step, and by the retention purge.

Here rather than beside the other document tests: an erasure rewrites the recipients' feed
copies while their topics keep the records until read, and the messaging tests, which
compare a recipient's topic with its feed on the shared stack, run before this folder."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.db import utcnow
from services.retention.service import purge_documents
from tests.services.documents.test_documents import notify_with, row, uploaded


def test_erasure_destroys_the_bytes_and_keeps_the_digest(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    doc = uploaded(prosecution)
    item = notify_with(stack, prosecution, doc["id"])
    order.wait_delivered(item["id"])
    name = row(stack, doc["id"]).object_name
    assert stack.hub.storage.exists(name)
    resp = prosecution.post(f"/v1/order-notifications/{item['id']}/withdrawal",
                            {"reason": "wrong_person", "explanation": "Homonyme."})
    assert resp.status_code == 201, resp.text
    assert resp.json()["content"]["documents"] == [{"id": doc["id"], "sha256": doc["sha256"]}]
    destroyed = row(stack, doc["id"])
    assert destroyed.sealed_key is None and destroyed.destroyed_reason == "erased"
    assert destroyed.object_deleted_at is not None
    assert not stack.hub.storage.exists(name)
    gone = order.get(f"/v1/documents/{doc['id']}")
    assert gone.status_code == 410 and doc["sha256"] in gone.json()["detail"]


def test_a_signed_answer_travels_as_a_pdf_its_evidence_verifies_offline_and_the_retention_purge_destroys_it(  # noqa: E501
        stack, tmp_path):
    from services.audit.models import AuditEntry
    from services.exchanges.models import Item
    from services.retention.service import purge
    from tests.conftest import example_answer, example_request
    from tests.services.evidence.test_evidence import export, standalone

    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])
    signed = uploaded(miviludes, title="Réponse signée de la Miviludes")
    answer = miviludes.post(f"/v1/information-requests/{item['id']}/answer",
                            example_answer(documents=[{"id": signed["id"]}]))
    assert answer.status_code == 201, answer.text
    assert court.get(f"/v1/documents/{signed['id']}").status_code == 200
    # The download is audited under the court's organisation.
    with stack.hub.db.sessions() as session:
        audited = session.scalars(select(AuditEntry).where(
            AuditEntry.object == f"/v1/documents/{signed['id']}")).all()
    assert any(e.org_id == "tj-paris" and e.outcome == 200 for e in audited)
    # The bundle — with the answer's digest and the document's retrieval — verifies
    # offline against the pinned keys.
    bundle = export(stack, item["id"], tmp_path / "bundle.json")
    steps = [r["claims"]["step"] for r in bundle["records"]]
    assert "answered" in steps and "document-retrieved" in steps
    keys = tmp_path / "keys.json"
    keys.write_text(stack.http.get("/.well-known/vigie-log-keys.json").text)
    ok = standalone(tmp_path, "bundle", str(tmp_path / "bundle.json"), "--keys", str(keys))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    with stack.hub.db.transaction() as session:
        session.get(Item, item["id"]).updated_at = utcnow() - timedelta(days=6 * 365)
    name = row(stack, signed["id"]).object_name
    assert purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())[
        "information-requests"] >= 1
    assert row(stack, signed["id"]).sealed_key is None
    purge_documents(stack.hub.db, stack.hub.writer, stack.hub.storage, utcnow())
    assert not stack.hub.storage.exists(name)
    assert court.get(f"/v1/documents/{signed['id']}").status_code == 410
