"""The write path: positions in a feed stay gapless and unique when several processes'
writers commit at once, and one faulty request never fails the others of its group."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import wait

import pytest
from sqlalchemy import func, select

from services.db import utcnow
from services.feed.models import FeedItem
from services.idempotency.models import IdempotencyRecord
from services.organisations.service import add_organisation
from services.writes.group import Conflict, FeedEntry, GroupWriter, Guard, Write
from tests.conftest import synthetic_feed_entry


def _entry(org_id: str) -> FeedEntry:
    return synthetic_feed_entry(org_id)


def _new_platform(stack) -> str:
    org_id = f"plateforme-{uuid.uuid4().hex[:8]}"
    with stack.hub.db.transaction() as session:
        add_organisation(session, org_id, "platform", "Plateforme neuve", None, "Neuve SAS")
    return org_id


def test_concurrent_writers_give_distinct_gapless_positions(stack):
    """Two writers (two API processes) append the first entries of a new feed at once."""
    org_id = _new_platform(stack)
    writers = [stack.group_writer, GroupWriter(stack.hub.db, stack.group_writer.log)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sender(writer: GroupWriter):
        try:
            barrier.wait()
            futures = [writer.submit(Write(feed=[_entry(org_id)])) for _ in range(10)]
            for f in futures:
                f.result(timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(writers[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with stack.hub.db.sessions() as session:
        seqs = sorted(session.scalars(select(FeedItem.seq).where(FeedItem.org_id == org_id)))
    assert seqs == list(range(1, 41))


def test_one_faulty_member_never_fails_its_group(stack):
    org_id = _new_platform(stack)
    row = {"client_id": "c", "key": str(uuid.uuid4()), "request_hash": "h", "status": 201,
           "response": "{}", "item_id": None, "created_at": utcnow()}
    table = IdempotencyRecord.__table__
    writer = GroupWriter(stack.hub.db, stack.group_writer.log)
    good = [Write(feed=[_entry(org_id)]) for _ in range(5)]
    # The same primary key twice: the second cannot commit.
    members = [good[0], Write(rows=[(table, row)]), good[1], Write(rows=[(table, dict(row))]),
               *good[2:]]
    futures = [writer.submit(w) for w in members]
    wait(futures, timeout=60)
    failed = [f for f in futures if f.exception() is not None]
    assert len(failed) == 1
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedItem)
                              .where(FeedItem.org_id == org_id)) == 5


def test_a_guard_that_finds_the_item_changed_writes_nothing(stack):
    from services.exchanges.models import Item

    org_id = _new_platform(stack)
    stale = Guard(Item.__table__, "no-such-item", 1, {"status": "x"})
    with pytest.raises(Conflict):
        stack.hub.writer.commit(Write(guard=stale, feed=[_entry(org_id)]))
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedItem)
                              .where(FeedItem.org_id == org_id)) == 0


def test_a_request_gone_before_its_commit_is_not_written_and_the_writer_lives_on(stack):
    """A client that disconnects cancels its future: the writer skips it (never raising
    on a cancelled future) and keeps committing the others."""
    org_id = _new_platform(stack)
    writer = GroupWriter(stack.hub.db, stack.group_writer.log)
    inside, release = threading.Event(), threading.Event()

    def hold(conn) -> None:
        inside.set()
        release.wait(30)

    first = writer.submit(Write(feed=[_entry(org_id)], then=hold))
    assert inside.wait(30)
    gone = writer.submit(Write(feed=[_entry(org_id)]))
    assert gone.cancel()  # queued behind the running group: cancellable
    release.set()
    first.result(timeout=60)
    writer.commit(Write(feed=[_entry(org_id)]))
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedItem)
                              .where(FeedItem.org_id == org_id)) == 2


def test_a_busy_writer_paces_its_groups_so_that_they_take_what_came_meanwhile(stack):
    """Group after group as fast as they commit, each group's fixed cost was paid as often
    at half the load as at full; paced, the writes that arrive within the pace after a
    group started share the next one."""
    org_id = _new_platform(stack)
    groups: list[int] = []
    # A budget far above the pace: this is about grouping, not overload (with the
    # default 0.5 s, a stall of the shared PostgreSQL refused a write: seen once).
    writer = GroupWriter(stack.hub.db, stack.group_writer.log, pace_seconds=0.3,
                         budget_seconds=10, on_commit=lambda: groups.append(1))
    writer.commit(Write(feed=[_entry(org_id)]))
    futures = [writer.submit(Write(feed=[_entry(org_id)])) for _ in range(5)]
    for future in futures:
        future.result(timeout=60)
    assert len(groups) == 2  # the first alone, the five others together
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedItem)
                              .where(FeedItem.org_id == org_id)) == 6


def test_a_pace_as_long_as_the_queue_budget_is_refused_at_start():
    from services.config import Settings

    with pytest.raises(ValueError, match="VIGIE_GROUP_PACE_SECONDS"):
        Settings.from_env({"VIGIE_GROUP_PACE_SECONDS": "0.5", "VIGIE_QUEUE_BUDGET_SECONDS": "0.4"})
    assert Settings.from_env({"VIGIE_GROUP_PACE_SECONDS": "0.01"}).group_pace_seconds == 0.01
