"""The production store: documents in a real S3-compatible server (SeaweedFS), encrypted,
read back through the hub, and deleted from the bucket when their item is erased."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from services.documents.storage import S3Storage
from tests.conftest import build_stack, example_notification, stop_consumers
from tests.services.documents import pdfs
from tests.services.documents.test_documents import row, uploaded


@pytest.fixture(scope="module")
def s3_stack(object_store, database_factory, tmp_path_factory):
    bucket = f"vigie-{uuid.uuid4().hex[:12]}"
    stack = build_stack("sqlite", database_factory("sqlite"),
                        tmp_path_factory.mktemp("state-s3"), run_consumers=False,
                        **object_store.env(bucket))
    deadline = time.monotonic() + 30
    while True:  # the gateway answers before its filer is ready
        try:
            stack.hub.storage.ensure()
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    yield stack
    stop_consumers(stack)
    stack.stop_writer.set()
    stack.hub.stop()
    stack.hub.db.engine.dispose()


def _objects(storage: S3Storage) -> dict[str, int]:
    listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix)
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


def test_documents_live_encrypted_in_the_bucket_and_go_with_their_item(s3_stack):
    storage = s3_stack.hub.storage
    assert isinstance(storage, S3Storage)
    prosecution, order = s3_stack.api("pr-paris"), s3_stack.api("cnop")
    content = pdfs.plain_pdf("Décision pénale", pages=40)
    doc = uploaded(prosecution, content)
    name = row(s3_stack, doc["id"]).object_name
    key = storage.prefix + name
    assert key in _objects(storage)
    stored = storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
    assert b"%PDF" not in stored and len(stored) > len(content)  # sealed chunks

    item = prosecution.post("/v1/order-notifications",
                            example_notification(documents=[{"id": doc["id"]}])).json()
    order.wait_delivered(item["id"])
    got = order.get(f"/v1/documents/{doc['id']}")
    assert got.status_code == 200 and got.content == content

    # An object changed in the bucket is refused, never served as the document.
    storage.client.put_object(Bucket=storage.bucket, Key=key,
                              Body=stored[:-40] + bytes(40))
    assert order.get(f"/v1/documents/{doc['id']}").status_code == 500
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=stored)

    resp = prosecution.post(f"/v1/order-notifications/{item['id']}/withdrawal",
                            {"reason": "wrong_person", "explanation": "Homonyme."})
    assert resp.status_code == 201, resp.text
    assert key not in _objects(storage)
    assert order.get(f"/v1/documents/{doc['id']}").status_code == 410
