"""A document's lifecycle: uploaded (streamed, hashed, inspected, encrypted, stored),
attached to one item by the step that carries it, downloaded by the item's parties,
destroyed with the item's personal data (its key at once, its bytes just after), or
expired when no item took it."""

from __future__ import annotations

import base64
import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, and_, select, update

from ..config import Settings
from ..db import utcnow
from ..metrics import DOCUMENT_REFUSALS
from ..problems import Problem, invalid
from ..sealed import SecretBox
from ..writes import wire
from ..writes.group import Condition, Write

__all__ = ["Condition"]
from . import crypto, inspection
from .models import Document
from .storage import Staged, Storage

DOCUMENTS = Document.__table__
MAX_REFERENCES = 20
SPOOL_PIECE = 64 * 1024


@dataclass
class Received:
    """An upload as read from the request: its bytes in an unnamed temporary file (gone
    when closed), their digest, size and first bytes."""

    file: IO[bytes]
    sha256: str
    size: int
    head: bytes


class Spool:
    """Takes the request body piece by piece; refuses it as soon as it passes the limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = b""

    def take(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            self.file.close()
            DOCUMENT_REFUSALS.labels("size").inc()
            raise Problem(413, "Payload too large",
                          f"documents are limited to {self.limit} bytes")
        if len(self.head) < inspection.SNIFF_BYTES:
            self.head += piece[:inspection.SNIFF_BYTES - len(self.head)]
        self.digest.update(piece)
        self.file.write(piece)

    def received(self) -> Received:
        if self.size == 0:
            self.file.close()
            DOCUMENT_REFUSALS.labels("empty").inc()
            raise invalid([{"field": "(body)", "message": "the document is empty"}])
        self.file.flush()
        return Received(self.file, self.digest.hexdigest(), self.size, self.head)


def refuse_unless_accepted(received: Received, media_type: str) -> None:
    """Refuses (422, with every reason) what the bytes show the hub must not take."""
    verdict = inspection.inspect(media_type, received.head, received.file)
    if not verdict.accepted:
        DOCUMENT_REFUSALS.labels(verdict.reason).inc()
        raise Problem(422, "Document refused", "; ".join(verdict.messages),
                      errors=[{"field": "(body)", "message": m} for m in verdict.messages])


def store(storage: Storage, box: SecretBox, document_id: str,
          received: Received) -> tuple[Staged, str]:
    """Encrypt the upload under a new key of its own and stage it in storage; the key,
    sealed by the hub's data key for this document only."""
    key = crypto.new_key()
    received.file.seek(0)
    staged = storage.stage(crypto.encrypt(key, document_id, received.file))
    return staged, box.seal(base64.b64encode(key).decode(), f"document:{document_id}")


def upload(settings: Settings, caller: Any, document_id: str, received: Received,
           media_type: str, title: str | None, object_name: str, sealed_key: str,
           now: datetime) -> tuple[Write, dict[str, Any]]:
    row = {"id": document_id, "org_id": caller.org_id, "uploaded_by": caller.client_id,
           "title": title, "media_type": media_type, "size": received.size,
           "sha256": received.sha256, "object_name": object_name, "sealed_key": sealed_key,
           "created_at": now, "expires_at": now + settings.document_expiry}
    return Write(rows=[(DOCUMENTS, row)]), resource(row)


def resource(row: Any) -> dict[str, Any]:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return {"id": get("id"), "sha256": get("sha256"), "size": get("size"),
            "media_type": get("media_type"), "title": get("title"),
            "uploaded_at": get("created_at").isoformat(),
            "expires_at": get("expires_at").isoformat() if get("expires_at") else None}


def descriptor(row: Any) -> dict[str, Any]:
    """How a step carries a document: what identifies it and proves its bytes."""
    return {"id": row.id, "sha256": row.sha256, "size": row.size,
            "media_type": row.media_type, "title": row.title}


# --- references ---------------------------------------------------------------------

def resolve(conn: Connection, org_id: str, references: list[dict[str, Any]], now: datetime,
            field: str = "documents") -> list[dict[str, Any]]:
    """The documents a submission or step names, as it will carry them; refused (422,
    every faulty reference listed) unless each is the caller's organisation's own upload,
    still kept and attached to no item. Another organisation's upload is as unknown as
    one that never existed."""
    if len(references) > MAX_REFERENCES:
        raise invalid([{"field": field, "message": f"at most {MAX_REFERENCES} documents"}])
    ids = [r["id"] for r in references]
    rows = {r.id: r for r in conn.execute(select(DOCUMENTS).where(
        DOCUMENTS.c.id.in_(ids), DOCUMENTS.c.org_id == org_id))} if ids else {}
    errors, seen = [], set()
    for n, doc_id in enumerate(ids):
        row = rows.get(doc_id)
        where = f"{field}[{n}].id"
        if doc_id in seen:
            errors.append({"field": where, "message": "named twice"})
        elif row is None or row.destroyed_at is not None or (
                row.expires_at is not None and row.expires_at <= now):
            errors.append({"field": where, "message": "no document uploaded by your "
                                                      "organisation has this id"})
        elif row.item_id is not None:
            errors.append({"field": where, "message": "already attached to an item: "
                                                      "upload it again for another one"})
        seen.add(doc_id)
    if errors:
        raise invalid(errors)
    return [descriptor(rows[i]) for i in ids]


def attachment(documents: list[dict[str, Any]], org_id: str, item_id: str,
               now: datetime) -> Condition:
    """Attaches the documents to the item in the step's transaction, or refuses the whole
    write (Conflict) if one was taken, destroyed or expired since it was resolved."""
    ids = [d["id"] for d in documents]
    marks = ", ".join(["%s"] * len(ids))
    return Condition(
        f"UPDATE documents SET item_id = %s, expires_at = NULL WHERE id IN ({marks}) "
        "AND org_id = %s AND item_id IS NULL AND destroyed_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > %s)",
        [item_id, *ids, org_id, now], len(ids))


def first_retrieval(document_id: str, now: datetime) -> Condition:
    """Marks the document retrieved by the party it was sent to, once: the write that
    carries its evidence is refused (Conflict) if another download marked it first."""
    return Condition(
        "UPDATE documents SET retrieved_at = %s WHERE id = %s AND retrieved_at IS NULL",
        [now, document_id], 1)


# --- reading --------------------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    """A document as one caller may fetch it."""

    document: Any
    item: Any | None
    # True when the caller is the party the document was sent to (not its uploader).
    recipient: bool


def accessible(conn: Connection, org_id: str, document_id: str) -> Access:
    """The document if the caller's organisation uploaded it, or is a party of the item
    that carries it (a recipient once the item reached it); 404 for anyone else."""
    from ..exchanges.models import Item

    items = Item.__table__
    row = conn.execute(select(DOCUMENTS).where(DOCUMENTS.c.id == document_id)).first()
    item = None
    if row is not None and row.item_id is not None:
        item = conn.execute(select(items).where(items.c.id == row.item_id)).first()
    if row is None:
        raise _unknown()
    if row.org_id == org_id:
        return Access(row, item, False)
    if item is not None and (item.sender_org == org_id or (
            item.recipient_org == org_id and item.delivered_at is not None)):
        return Access(row, item, True)
    raise _unknown()


def _unknown() -> Problem:
    return Problem(404, "Not Found", "no such document")


def gone(row: Any) -> Problem:
    return Problem(410, "Gone", f"the document was destroyed on {row.destroyed_at.isoformat()}"
                   f" ({row.destroyed_reason}); its digest sha256:{row.sha256} is kept")


def plaintext(storage: Storage, box: SecretBox, row: Any) -> Iterator[bytes]:
    key = base64.b64decode(box.open(row.sealed_key, f"document:{row.id}"))
    return crypto.decrypt(key, row.id, storage.read(row.object_name))


# --- destruction ---------------------------------------------------------------------

def destroy_statement(reason: str, now: datetime, item_id: str | None = None,
                      document_ids: list[str] | None = None):
    """Makes the documents unreadable at once (their keys are dropped: crypto-shredding);
    their stored objects are deleted by `delete_objects` after the commit."""
    where = [DOCUMENTS.c.destroyed_at.is_(None)]
    if item_id is not None:
        where.append(DOCUMENTS.c.item_id == item_id)
    if document_ids is not None:
        where.append(DOCUMENTS.c.id.in_(document_ids))
    return (update(DOCUMENTS).where(and_(*where))
            .values(sealed_key=None, destroyed_at=now, destroyed_reason=reason))


@dataclass(frozen=True)
class Expiry:
    """Destroys uploads that expired unattached (run by the write path, in its
    transaction; plain data, so that it travels to a writer process)."""

    document_ids: list[str]

    def __call__(self, conn: Connection) -> None:
        conn.execute(destroy_statement("expired", utcnow(), document_ids=self.document_ids)
                     .where(DOCUMENTS.c.item_id.is_(None)))


wire.allow(Expiry)


def expired_uploads(conn: Connection, now: datetime, limit: int = 500) -> list[str]:
    return list(conn.execute(select(DOCUMENTS.c.id).where(
        DOCUMENTS.c.item_id.is_(None), DOCUMENTS.c.destroyed_at.is_(None),
        DOCUMENTS.c.expires_at <= now).limit(limit)).scalars())


def delete_objects(conn: Connection, storage: Storage, limit: int = 500) -> int:
    """Delete the stored bytes of destroyed documents (their keys are gone already); an
    object two live documents would share is never the case (each has its own key, so
    its own stored bytes)."""
    rows = conn.execute(select(DOCUMENTS.c.id, DOCUMENTS.c.object_name)
                        .where(DOCUMENTS.c.destroyed_at.is_not(None),
                               DOCUMENTS.c.object_deleted_at.is_(None)).limit(limit)).all()
    for doc_id, name in rows:
        storage.delete(name)
        conn.execute(update(DOCUMENTS).where(DOCUMENTS.c.id == doc_id)
                     .values(object_deleted_at=utcnow()))
    conn.commit()
    return len(rows)


def new_id() -> str:
    return str(uuid.uuid4())
