"""Documents end to end against the real stack (both databases, the real broker): upload,
refusals, attachment to a submission and to a step, download by the parties only with
its evidence, erasure of the bytes, expiry of loose uploads."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.db import utcnow
from services.documents.models import Document
from services.retention.service import purge_documents
from tests.conftest import example_notification, example_order, stored_counts
from tests.services.documents import pdfs


def upload(api, content: bytes, media_type: str = "application/pdf", title: str | None =
           "Jugement du 2 octobre 2025", key: str | None = "auto"):
    params = {"title": title} if title else {}
    return api.post("/v1/documents", key=key, content=content,
                    headers={"Content-Type": media_type}, params=params)


def uploaded(api, content: bytes | None = None, **kwargs) -> dict:
    resp = upload(api, content or pdfs.plain_pdf(uuid.uuid4().hex), **kwargs)
    assert resp.status_code == 201, resp.text
    return resp.json()


def row(stack, document_id: str):
    with stack.hub.db.sessions() as session:
        return session.scalar(select(Document).where(Document.id == document_id))


def notify_with(stack, prosecution, document_id: str) -> dict:
    resp = prosecution.post("/v1/order-notifications",
                            example_notification(documents=[{"id": document_id}]))
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_upload_answers_the_digest_and_stores_the_bytes_encrypted(stack):
    prosecution = stack.api("pr-paris")
    content = pdfs.plain_pdf("Décision pénale")
    key = str(uuid.uuid4())
    resp = upload(prosecution, content, key=key)
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert (doc["size"], doc["media_type"]) == (len(content), "application/pdf")
    assert doc["title"] == "Jugement du 2 octobre 2025"
    assert resp.headers["location"] == f"/v1/documents/{doc['id']}"
    stored = b"".join(stack.hub.storage.read(row(stack, doc["id"]).object_name))
    assert content not in stored and b"%PDF" not in stored  # encrypted at rest
    # The same request under the same key is answered as the first time; another is not.
    again = upload(prosecution, content, key=key)
    assert again.status_code == 201 and again.json()["id"] == doc["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = upload(prosecution, pdfs.plain_pdf("autre"), key=key)
    assert other.status_code == 422
    assert upload(prosecution, content, key=None).status_code == 400


@pytest.mark.parametrize("make, media_type, status, reason", [
    (pdfs.with_javascript, "application/pdf", 422, "JavaScript"),
    (pdfs.with_embedded_file, "application/pdf", 422, "embedded files"),
    (pdfs.with_launch_action, "application/pdf", 422, "launch action"),
    (pdfs.encrypted, "application/pdf", 422, "encrypted"),
    (lambda: b"%PDF-1.7\n1 0 obj broken", "application/pdf", 422, "does not parse"),
    (pdfs.png, "application/pdf", 422, "image/png, not application/pdf"),
    (pdfs.plain_pdf, "image/png", 422, "application/pdf, not image/png"),
    (pdfs.plain_pdf, "text/plain", 415, ""),
    (lambda: b"", "application/pdf", 422, "empty"),
])
def test_refusals_say_why_and_store_nothing(stack, make, media_type, status, reason):
    prosecution = stack.api("pr-paris")
    with stack.hub.db.sessions() as session:
        before = session.query(Document).count()
    resp = upload(prosecution, make(), media_type=media_type)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert reason in resp.text
    with stack.hub.db.sessions() as session:
        assert session.query(Document).count() == before


def test_an_upload_over_the_limit_is_refused_before_it_is_read(stack):
    limit = stack.settings.document_max_bytes
    resp = upload(stack.api("pr-paris"), b"%PDF-" + b"0" * limit)
    assert resp.status_code == 413, resp.text
    assert str(limit) in resp.json()["detail"]


def test_a_png_screenshot_travels_with_a_content_notice(stack):
    from tests.conftest import example_notice

    flagger, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    shot = uploaded(flagger, pdfs.png(), media_type="image/png", title="Capture")
    notice = flagger.post("/v1/content-notices", example_notice(documents=[{"id": shot["id"]}]))
    assert notice.status_code == 201, notice.text
    platform.wait_delivered(notice.json()["id"])
    got = platform.get(f"/v1/documents/{shot['id']}")
    assert got.status_code == 200 and got.content == pdfs.png()
    assert got.headers["content-type"] == "image/png"


def test_attached_documents_travel_bound_to_the_evidence_and_reach_only_the_parties(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    content = pdfs.plain_pdf("Condamnation de M. Moreau")
    doc = uploaded(prosecution, content)
    item = notify_with(stack, prosecution, doc["id"])
    carried = item["content"]["documents"]
    assert carried == [{"id": doc["id"], "sha256": doc["sha256"], "size": doc["size"],
                        "media_type": "application/pdf", "title": doc["title"]}]
    assert row(stack, doc["id"]).item_id == item["id"]
    assert row(stack, doc["id"]).expires_at is None
    delivered = order.wait_delivered(item["id"])
    assert delivered["event"]["data"]["content"]["documents"] == carried

    got = order.get(f"/v1/documents/{doc['id']}")
    assert got.status_code == 200, got.text
    assert got.content == content
    assert got.headers["etag"] == f'"{doc["sha256"]}"'
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "Jugement du 2 octobre 2025.pdf" in got.headers["content-disposition"]
    assert order.get(f"/v1/documents/{doc['id']}").status_code == 200
    cached = order.stack.http.get(f"/v1/documents/{doc['id']}",
                                  headers={**order.headers, "If-None-Match": got.headers["etag"]})
    assert cached.status_code == 304
    # The uploader's own downloads are not the recipient's retrieval.
    assert prosecution.get(f"/v1/documents/{doc['id']}").content == content

    evidence = prosecution.get(f"/v1/order-notifications/{item['id']}/evidence").json()
    retrieved = [r for r in evidence["evidence"] if r["step"] == "document-retrieved"]
    assert len(retrieved) == 1  # the first download by the order only
    assert retrieved[0]["claims"]["step_digest"] == f"sha256:{doc['sha256']}"
    assert doc["id"] in retrieved[0]["claims"]["detail"]
    assert "leaf_index" in retrieved[0] and "inclusion" in retrieved[0]
    # Anyone else: as if it did not exist — another order, another prosecution.
    for stranger in ("cnom", "pr-marseille", "plateforme-alpha", "miviludes"):
        resp = stack.api(stranger).get(f"/v1/documents/{doc['id']}")
        assert resp.status_code == 404, (stranger, resp.text)
    assert order.get(f"/v1/documents/{uuid.uuid4()}").status_code == 404


def test_a_document_is_attached_only_by_its_uploader_and_only_once(stack):
    prosecution, other = stack.api("pr-paris"), stack.api("pr-marseille")
    doc = uploaded(prosecution)
    before = stored_counts(stack)
    theirs = other.post("/v1/order-notifications",
                        example_notification(documents=[{"id": doc["id"]}]))
    assert theirs.status_code == 422, theirs.text
    assert theirs.json()["errors"] == [{"field": "documents[0].id", "message":
                                        "no document uploaded by your organisation has "
                                        "this id"}]
    twice = prosecution.post("/v1/order-notifications", example_notification(
        documents=[{"id": doc["id"]}, {"id": doc["id"]}, {"id": "nope"}]))
    assert twice.status_code == 422
    assert {e["field"] for e in twice.json()["errors"]} == {"documents[1].id",
                                                             "documents[2].id"}
    assert stored_counts(stack) == before
    assert row(stack, doc["id"]).item_id is None


def test_a_document_attached_once_cannot_be_attached_again(stack):
    prosecution = stack.api("pr-paris")
    doc = uploaded(prosecution)
    notify_with(stack, prosecution, doc["id"])
    again = prosecution.post("/v1/order-notifications",
                             example_notification(documents=[{"id": doc["id"]}]))
    assert again.status_code == 422
    assert "already attached" in again.text


def test_the_order_asks_for_a_copy_and_the_prosecution_sends_it(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    item = notify_with(stack, prosecution, uploaded(prosecution)["id"])
    order.wait_delivered(item["id"])
    base = f"/v1/order-notifications/{item['id']}"
    assert order.post(f"{base}/acknowledgement", {"reference": "D-1"}).status_code == 201
    copy = uploaded(prosecution, title="Copie du jugement")
    early = prosecution.post(f"{base}/copy", {"documents": [{"id": copy["id"]}]})
    assert early.status_code == 422 and "has not asked" in early.text
    asked = order.post(f"{base}/copy-request", {"note": "Pour l'instance disciplinaire."})
    assert asked.status_code == 201, asked.text
    sent = prosecution.post(f"{base}/copy", {"documents": [{"id": copy["id"]}]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["steps"][-1]["content"]["documents"][0]["sha256"] == copy["sha256"]
    assert prosecution.post(f"{base}/copy", {"documents": []}).status_code == 422
    order.wait_feed(lambda f: any(e["event"]["type"].endswith(".copy_sent") for e in f))
    assert order.get(f"/v1/documents/{copy['id']}").status_code == 200
    evidence = order.get(f"{base}/evidence").json()["evidence"]
    step = next(r for r in evidence if r["step"] == "copy_sent")
    from services.exchanges.digests import digest
    assert step["claims"]["step_digest"] == digest(sent.json()["steps"][-1]["content"])


def test_uploads_never_attached_expire_and_are_destroyed(stack):
    prosecution = stack.api("pr-paris")
    doc = uploaded(prosecution)
    with stack.hub.db.transaction() as session:
        session.execute(update(Document).where(Document.id == doc["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    late = prosecution.post("/v1/order-notifications",
                            example_notification(documents=[{"id": doc["id"]}]))
    assert late.status_code == 422
    name = row(stack, doc["id"]).object_name
    counts = purge_documents(stack.hub.db, stack.hub.writer, stack.hub.storage, utcnow())
    assert counts["expired"] >= 1 and counts["deleted"] >= 1
    assert row(stack, doc["id"]).destroyed_reason == "expired"
    assert not stack.hub.storage.exists(name)
    assert prosecution.get(f"/v1/documents/{doc['id']}").status_code == 410


def test_a_suspension_order_carries_the_decision(stack):
    court, platform = stack.api("tj-lyon"), stack.api("plateforme-beta")
    doc = uploaded(court, title="Jugement TJ Lyon")
    order = court.post("/v1/suspension-orders", example_order(documents=[{"id": doc["id"]}]))
    assert order.status_code == 201, order.text
    platform.wait_delivered(order.json()["id"])
    assert platform.get(f"/v1/documents/{doc['id']}").status_code == 200
    assert json.dumps(order.json()["content"]["documents"][0]["sha256"]) == \
        json.dumps(doc["sha256"])
