"""Hostile input around documents: every refusal a precise problem, none a 500, nothing
left behind; two submissions racing for one document: one wins, the other is told why."""

from __future__ import annotations

import threading
import uuid

from tests.conftest import example_notification, stored_counts
from tests.services.documents import pdfs
from tests.services.documents.test_documents import upload, uploaded


def test_bad_uploads_and_references_get_precise_problems(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    long_title = upload(prosecution, pdfs.plain_pdf(), title="x" * 201)
    assert long_title.status_code == 400, long_title.text
    assert "title" in long_title.text
    as_json = prosecution.post("/v1/documents", {"a": 1})
    assert as_json.status_code == 415
    anonymous = stack.http.post("/v1/documents", content=pdfs.plain_pdf(),
                                headers={"Content-Type": "application/pdf",
                                         "Idempotency-Key": str(uuid.uuid4())})
    assert anonymous.status_code == 401
    forged = stack.http.get(f"/v1/documents/{uuid.uuid4()}",
                            headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert forged.status_code == 401
    assert order.get("/v1/documents/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert upload(stack.api("exploitation"), pdfs.plain_pdf()).status_code == 403

    before = stored_counts(stack)
    for documents, fields in [
        ("x", {"documents"}),
        ([{"id": 5}], {"documents[0].id"}),
        ([{"id": "a", "extra": 1}], {"documents[0].extra"}),
        ([{}], {"documents[0].id"}),
        ([{"id": str(uuid.uuid4())}] * 21, {"documents"}),
    ]:
        resp = prosecution.post("/v1/order-notifications",
                                example_notification(documents=documents))
        assert resp.status_code == 422, resp.text
        assert fields <= {e["field"] for e in resp.json()["errors"]}, resp.json()["errors"]
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    order.wait_delivered(item["id"])
    doc = uploaded(order)
    # A step whose contract carries no documents refuses them as an unknown field.
    ack = order.post(f"/v1/order-notifications/{item['id']}/acknowledgement",
                     {"reference": "R", "documents": [{"id": doc["id"]}]})
    assert ack.status_code == 422
    assert {"field": "documents", "message": "unknown field"} in ack.json()["errors"]
    after = stored_counts(stack)
    assert after[0] == before[0] + 1  # only the valid notification


def test_two_submissions_racing_for_one_document(stack):
    prosecution = stack.api("pr-paris")
    doc = uploaded(prosecution)
    answers: list = []

    def submit():
        answers.append(prosecution.post("/v1/order-notifications",
                                        example_notification(documents=[{"id": doc["id"]}])))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 422, 422, 422], [a.text for a in answers]
    assert all("already attached" in a.text for a in answers if a.status_code == 422)
