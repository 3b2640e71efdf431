"""Upload and download of documents. An upload is streamed to an unnamed temporary file
while hashed (never held whole in memory), inspected, encrypted under its own key and
stored, then recorded by the write path once per Idempotency-Key; a download is
decrypted chunk by chunk as it is sent."""

from __future__ import annotations

import contextlib
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import anyio
from connexion import request
from starlette.responses import Response, StreamingResponse

from ..creating import Call, create_once
from ..db import utcnow
from ..http import ARRIVED
from ..hub import Hub, current_hub
from ..metrics import (
    DOCUMENT_DOWNLOADS,
    DOCUMENT_REFUSALS,
    DOCUMENT_UPLOADED_BYTES,
    DOCUMENT_UPLOADS,
)
from ..oauth.identity import Caller
from ..problems import Problem
from ..writes.group import Conflict, Write
from . import service
from .crypto import Corrupted
from .service import Spool

# Organisation types that take part in no exchange as a party upload nothing.
NON_PARTIES = frozenset({"operator"})


async def upload(title: str | None = None):
    hub = current_hub()
    call = Call.current()
    caller = Caller.from_claims(call.claims)
    if caller.org_type in NON_PARTIES:
        raise Problem(403, "Forbidden", f"a {caller.org_type} takes part in no exchange")
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in hub.settings.document_types:
        DOCUMENT_REFUSALS.labels("type").inc()
        raise Problem(415, "Unsupported Media Type",
                      "documents are " + ", ".join(hub.settings.document_types))
    spool = Spool(hub.settings.document_max_bytes)
    try:
        async for piece in request.stream():
            if piece:
                spool.take(piece)
        received = spool.received()
    except BaseException:
        spool.file.close()
        raise
    # The client's time to send the file is not a wait in the hub's queues: the overload
    # budget counts from here (and from the end of the storing build for the commit).
    call.scope.setdefault("extensions", {})[ARRIVED] = time.monotonic()
    stored: list[str] = []

    async def build(caller: Caller, now: datetime):
        def work():
            service.refuse_unless_accepted(received, media_type)
            document_id = service.new_id()
            staged, sealed_key = service.store(hub.storage, hub.box, document_id, received)
            hub.storage.commit(staged)
            stored.append(staged.name)
            return service.upload(hub.settings, caller, document_id, received, media_type,
                                  title, staged.name, sealed_key, now)
        return await anyio.to_thread.run_sync(work)

    kept: str | None = None
    try:
        created = await create_once(call, {"sha256": received.sha256, "size": received.size,
                                           "media_type": media_type, "title": title}, build,
                                  queued_from_build=True)
        if created.resource is not None:
            kept = stored[-1]
    finally:
        received.file.close()
        # What a retry or a refused write stored is nobody's: deleted at once.
        for name in stored:
            if name != kept:
                await anyio.to_thread.run_sync(hub.storage.delete, name)
    if created.resource is None:
        return created.replay
    DOCUMENT_UPLOADS.labels(media_type).inc()
    DOCUMENT_UPLOADED_BYTES.inc(received.size)
    resource = created.resource
    return resource, 201, {"Content-Type": "application/json",
                           "Location": f"/v1/documents/{resource['id']}"}


def _filename(row: Any) -> str:
    """A safe file name from the title (ASCII fallback; the UTF-8 one beside it)."""
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
    stem = (row.title or row.id).strip()[:120]
    return re.sub(r"[\x00-\x1f\x7f/\\\"]", "_", stem) + extension.get(row.media_type, "")


def disposition(row: Any) -> str:
    """The Content-Disposition of a document's download (its title, UTF-8)."""
    return _disposition(_filename(row))


def _disposition(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", ascii_name) or "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def download(id: str):  # noqa: A002 - the contract's name
    hub = current_hub()
    caller = Call.current().caller()

    def find() -> service.Access:
        with hub.db.reads() as conn:
            return service.accessible(conn, caller.org_id, id)

    access = await anyio.to_thread.run_sync(find)
    row = access.document
    if row.destroyed_at is not None:
        raise service.gone(row)
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-store",
               "X-Content-Type-Options": "nosniff"}
    if etag in [t.strip() for t in (request.headers.get("if-none-match") or "").split(",")]:
        return Response(status_code=304, headers=headers)
    pieces = service.plaintext(hub.storage, hub.box, row)
    try:
        first = await anyio.to_thread.run_sync(next, pieces, b"")
    except Corrupted:
        raise Problem(500, "Internal Server Error",
                      "the stored document does not open; the operators are alerted") from None
    if access.recipient:
        await record_retrieval(hub, access, caller, utcnow())
    DOCUMENT_DOWNLOADS.labels("recipient" if access.recipient else "uploader").inc()
    return StreamingResponse(
        _rest(first, pieces), media_type=row.media_type,
        headers={**headers, "Content-Length": str(row.size),
                 "Content-Disposition": disposition(row)})


async def _rest(first: bytes, pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    while piece := await anyio.to_thread.run_sync(next, pieces, b""):
        yield piece


async def record_retrieval(hub: Hub, access: service.Access, caller: Caller,
                           now: datetime) -> None:
    """The first download by the party the document was sent to is evidence, bound to the
    document's digest and recorded once (the document's row is the guard)."""
    from ..exchanges.service import evidence

    row, item = access.document, access.item
    claims = evidence(hub.settings, item, "document-retrieved", now,
                      step_digest=f"sha256:{row.sha256}",
                      detail=f"document {row.id} downloaded by {caller.org_id}",
                      agent=caller.agent)
    write = Write(evidence=[claims], conditions=[service.first_retrieval(row.id, now)])
    with contextlib.suppress(Conflict):  # another download recorded it first
        await hub.writer.written(write)

