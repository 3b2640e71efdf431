"""The writer process's side and the API process's side of the write path
(services/writes/remote.py), against the real databases: outcomes travel back as the
local writer gives them, a frame naming anything but what writes are made of is refused,
and a writer that goes away is answered 503 (OperationalError), then found again."""

from __future__ import annotations

import asyncio
import os
import pickle
import stat
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from services.db import utcnow
from services.exchanges.models import Item
from services.feed.models import FeedItem
from services.organisations.service import add_organisation
from services.writes import remote, wire
from services.writes.group import (
    AlreadyAnswered,
    Conflict,
    GroupWriter,
    Guard,
    Write,
)
from tests.conftest import synthetic_feed_entry


def _platform(stack) -> str:
    org_id = f"plateforme-{uuid.uuid4().hex[:8]}"
    with stack.hub.db.transaction() as session:
        add_organisation(session, org_id, "platform", "Plateforme", None, "Plateforme SAS")
    return org_id


def _write(org_id: str, key: str | None = None) -> Write:
    now = utcnow()
    write = Write(feed=[synthetic_feed_entry(org_id)])
    if key is not None:
        write.idempotency = {"client_id": "c", "key": key, "request_hash": "h",
                             "status": 201, "response": "{}", "item_id": None,
                             "created_at": now}
    return write


@pytest.fixture
def served(stack, tmp_path_factory):
    """A writer serving on a socket, as the writer process does."""
    path = Path(tmp_path_factory.mktemp("run")) / "writer.sock"
    writer = GroupWriter(stack.hub.db, stack.group_writer.log)
    stop = threading.Event()
    thread = threading.Thread(target=remote.serve, args=(writer, path, stop), daemon=True)
    thread.start()
    while not path.exists():
        assert thread.is_alive()
    yield path, stop, thread
    stop.set()
    thread.join(timeout=10)


def _feed_count(stack, org_id: str) -> int:
    with stack.hub.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(FeedItem)
                              .where(FeedItem.org_id == org_id))


def test_outcomes_travel_back_as_the_writer_gives_them(stack, served):
    path, _, _ = served
    org_id = _platform(stack)
    client = remote.RemoteWriter(path)
    key = str(uuid.uuid4())
    stale = Write(guard=Guard(Item.__table__, "no-such-item", 1, {"status": "x"}))

    async def scenario():
        first = await asyncio.gather(*(client.written(_write(org_id)) for _ in range(20)),
                                     return_exceptions=True)
        await client.written(_write(org_id, key))
        again = await asyncio.gather(client.written(_write(org_id, key)),
                                     client.written(stale), return_exceptions=True)
        return first, again

    first, again = asyncio.run(scenario())
    assert first == [None] * 20
    assert isinstance(again[0], AlreadyAnswered)
    assert isinstance(again[1], Conflict)
    assert _feed_count(stack, org_id) == 21
    # From a thread of a process whose loop never wrote: a connection of its own.
    client.commit(_write(org_id))
    assert _feed_count(stack, org_id) == 22


def test_the_socket_is_the_hub_users_alone(served):
    path, _, _ = served
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_writer_gone_is_answered_503_and_found_again(stack, served):
    path, stop, thread = served
    org_id = _platform(stack)
    client = remote.RemoteWriter(path)

    async def until_it_stops():
        await client.written(_write(org_id))
        stop.set()
        await asyncio.to_thread(thread.join, 30)
        await asyncio.sleep(0.2)  # its end of the connection closed
        with pytest.raises(OperationalError):
            await client.written(_write(org_id))

    asyncio.run(until_it_stops())
    # Another writer on the same path (the supervisor's restart): found again.
    writer = GroupWriter(stack.hub.db, stack.group_writer.log)
    again_stop = threading.Event()
    again = threading.Thread(target=remote.serve, args=(writer, path, again_stop),
                             daemon=True)
    again.start()
    while not path.exists():
        assert again.is_alive()
    try:
        asyncio.run(client.written(_write(org_id)))
    finally:
        again_stop.set()
        again.join(timeout=30)
    assert _feed_count(stack, org_id) == 2


def test_a_frame_names_nothing_but_what_writes_are_made_of():
    import services.models  # noqa: F401 - the tables writes name

    write = _write("org")
    write.rows = [(Item.__table__, {"id": "x", "created_at": utcnow()})]
    (payload,) = wire.Frames().feed(wire.encode_writes([(7, write)]))
    [(request_id, back)] = wire.decode_writes(payload)
    assert request_id == 7 and back == write and back.rows[0][0] is Item.__table__
    for hostile in (pickle.dumps([(1, os.system)]),
                    pickle.dumps([(1, getattr)]),
                    pickle.dumps([(1, threading.Thread)])):
        with pytest.raises(pickle.UnpicklingError):
            wire.decode_writes(hostile)
    # Outcomes are plain values: no class at all.
    with pytest.raises(pickle.UnpicklingError):
        wire.decode_outcomes(pickle.dumps([(1, "ok", utcnow())]))
    with pytest.raises(ValueError):
        wire.Frames().feed(b"\xff\xff\xff\xff")


def test_a_write_cancelled_under_a_request_is_a_503_not_a_500(tmp_path, monkeypatch):
    """The loop carrying a write stops (the server shutting down): the handler's thread
    gets the write path's unavailability (answered 503), not a CancelledError (500)."""
    from concurrent.futures import Future

    from sqlalchemy.exc import OperationalError

    writer = remote.RemoteWriter(tmp_path / "writer.sock")
    cancelled: Future = Future()
    cancelled.cancel()
    monkeypatch.setattr(writer, "submit", lambda write: cancelled)
    with pytest.raises(OperationalError):
        writer.commit(Write())
