"""The relay: each recipient's REST feed is also the outbox of its Kafka topic. A feed
entry commits in the transaction that creates what it announces, so a 2xx answer means
durable even while the broker is down; the relay publishes the entries after the
recipient's topic position, in feed order, then moves the position (one row per
recipient, not one mark per message). At least once: the record's `cursor` — its feed
position — lets a consumer drop a duplicate, and a relay that died before moving the
position finds those records on the topic and skips them.

The relay is woken by commits: PostgreSQL LISTEN/NOTIFY across processes, a direct call
within one; it polls only on SQLite across processes."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    Subquery,
    and_,
    bindparam,
    func,
    select,
    text,
    true,
)
from sqlalchemy.exc import DBAPIError

from .. import tracing
from ..config import Settings
from ..db import Database, utcnow
from ..feed.models import FeedHead, FeedItem
from ..metrics import DELIVERIES, MESSAGES_PRODUCED, PRODUCE_FAILURES, RELAY_LEADER
from ..writes.group import OUTBOX_CHANNEL, feed_text
from .kafka_client import client_config
from .models import TopicPosition
from .topics import ensure_topics, feed_topic, topic_message_id

log = logging.getLogger(__name__)
RELAY_LOCK_ID = 0x76696769  # PostgreSQL advisory lock: one relay at a time keeps order
FEED = FeedItem.__table__
HEADS = FeedHead.__table__
POSITIONS = TopicPosition.__table__


@dataclass(frozen=True)
class Waiting:
    """A recipient whose feed is ahead of its topic."""

    org_id: str
    published: int   # every entry up to here is on the topic
    last: int        # the feed's last entry


def _waiting() -> Subquery:
    """The recipients with entries still to publish (a committed head's entries are all
    committed: positions are taken under its row lock)."""
    published = func.coalesce(POSITIONS.c.published_seq, 0)
    return (select(HEADS.c.org_id, published.label("published"), HEADS.c.last_seq)
            .select_from(HEADS.outerjoin(POSITIONS, POSITIONS.c.org_id == HEADS.c.org_id))
            .where(HEADS.c.last_seq > published).subquery())


WAITING = _waiting()


def _next_entries() -> Select:
    """For every recipient waiting, its next `limit` entries, in one statement: positions
    are contiguous, so they are the range after its topic position (a recipient with none
    there comes with a NULL entry)."""
    w = WAITING
    return (select(w.c.org_id, w.c.published, w.c.last_seq, FEED.c.seq, FEED.c.item_id,
                   FEED.c.envelope, FEED.c.delivered_at)
            .select_from(w.outerjoin(FEED, and_(
                FEED.c.org_id == w.c.org_id, FEED.c.seq > w.c.published,
                FEED.c.seq <= w.c.published + bindparam("limit", type_=BigInteger))))
            .order_by(w.c.org_id, FEED.c.seq))


NEXT_ENTRIES = _next_entries()


def _next_entries_lateral() -> Select:
    """The same rows, each recipient's range read by its own index scan (PostgreSQL).
    Measured under `make bench`: once the feeds held some thousands of entries, the
    planner ran the join above with only the positions as the index condition and the
    recipient as a filter — every recipient's entries in the range, 3,500 buffers and
    11 ms a batch, 0.4 of a core at half the maximum rate."""
    w = WAITING
    ahead = (select(FEED.c.seq, FEED.c.item_id, FEED.c.envelope, FEED.c.delivered_at)
             .where(FEED.c.org_id == w.c.org_id, FEED.c.seq > w.c.published)
             .order_by(FEED.c.seq).limit(bindparam("limit", type_=BigInteger))
             .lateral("ahead"))
    return (select(w.c.org_id, w.c.published, w.c.last_seq, ahead.c.seq, ahead.c.item_id,
                   ahead.c.envelope, ahead.c.delivered_at)
            .select_from(w.outerjoin(ahead, true()))
            .order_by(w.c.org_id, ahead.c.seq))


NEXT_ENTRIES_LATERAL = _next_entries_lateral()  # SQLite has no LATERAL


def waiting(conn: Connection) -> list[Waiting]:
    rows = conn.execute(select(WAITING).order_by(WAITING.c.org_id)).all()
    return [Waiting(*row) for row in rows]


def backlog(conn: Connection, ahead: list[Waiting] | None = None) -> int:
    """Feed entries not yet on their recipients' topics (`ahead`: `waiting`, if read)."""
    return sum(w.last - w.published for w in (waiting(conn) if ahead is None else ahead))


def oldest_waiting(conn: Connection, ahead: list[Waiting]) -> datetime | None:
    """When the oldest entry still to publish reached its feed."""
    oldest = None
    for w in ahead:
        at = conn.scalar(select(FEED.c.delivered_at).where(
            FEED.c.org_id == w.org_id, FEED.c.seq == w.published + 1))
        if at is not None and (oldest is None or at < oldest):
            oldest = at
    return oldest


def items_waiting_since(conn: Connection, ahead: list[Waiting], item_ids,
                        before: datetime) -> int:
    """How many of the items (a subquery of item ids) have an entry in a feed since before
    `before` that is not yet on the recipient's topic."""
    count = 0
    for w in ahead:
        count += conn.scalar(select(func.count(func.distinct(FEED.c.item_id))).where(
            FEED.c.org_id == w.org_id, FEED.c.seq > w.published,
            FEED.c.delivered_at < before, FEED.c.item_id.in_(item_ids))) or 0
    return count


def make_producer(settings: Settings, client_id: str = "vigie-relay") -> KafkaProducer:
    return KafkaProducer(
        **client_config(settings), client_id=client_id,
        acks="all", enable_idempotence=True, linger_ms=2,
        request_timeout_ms=10000, delivery_timeout_ms=30000, max_block_ms=10000,
        retry_backoff_ms=200,
    )


class OutboxRelay:
    """Publishes unpublished outbox rows in id order; one relay holds the lock at a time."""

    def __init__(self, db: Database, settings: Settings, batch_size: int = 500,
                 idle_seconds: float = 0.05, pace_seconds: float = 0.02):
        """`pace_seconds`: the shortest time between two batches. Every group commit
        notifies; relaying each at once cost a query, a produce and a position update per
        commit (twice, with the pass that found nothing left): 5.9 s of the relay's CPU in
        20 s at 630 submissions a second, 3.9 paced. A batch then carries what several
        commits added, for at most this much more latency on the topics."""
        self.db = db
        self.settings = settings
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.pace_seconds = pace_seconds
        self.more = False  # the last batch left entries behind (a recipient's batch full)
        self._producer: KafkaProducer | None = None
        self._lock_conn = None
        self.failing = False  # the broker refused the last batch: back off
        self._known_topics: set[str] = set()
        # Topics whose end this relay has read since it last started producing: a record
        # published before a crash, but not marked, is then skipped, never sent twice.
        self._checked: set[str] = set()
        self._woken = threading.Event()
        self._listen_conn = None
        # Built once: only the leader moves the positions, each to the last entry published.
        stmt = db.insert(POSITIONS).values(org_id=bindparam("org"),
                                           published_seq=bindparam("seq"),
                                           updated_at=bindparam("now"))
        self._advance = stmt.on_conflict_do_update(
            index_elements=[POSITIONS.c.org_id],
            set_={"published_seq": stmt.excluded.published_seq,
                  "updated_at": stmt.excluded.updated_at})

    def wake(self) -> None:
        """A commit in this process added rows (the write path's `on_commit`)."""
        self._woken.set()

    def _wait_for_commit(self, timeout: float) -> None:
        """Until a commit adds rows, or `timeout`: NOTIFY on PostgreSQL, else a wake-up
        from this process or the end of the poll interval."""
        if self.db.dialect != "postgresql":
            self._woken.wait(timeout)
            self._woken.clear()
            return
        try:
            if self._listen_conn is None:
                import psycopg

                url = self.db.engine.url.set(drivername="postgresql")
                conn = psycopg.connect(url.render_as_string(hide_password=False),
                                       autocommit=True)
                conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                self._listen_conn = conn
            for _ in self._listen_conn.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in self._listen_conn.notifies(timeout=0):
                pass  # the commits notified meanwhile: one batch takes them all
        except Exception as exc:  # noqa: BLE001 - fall back to polling until it returns
            log.warning("outbox relay: no commit notifications (%s)", str(exc)[:200])
            self._close_listener()
            time.sleep(min(timeout, 0.05))

    def _close_listener(self) -> None:
        if self._listen_conn is not None:
            with contextlib.suppress(Exception):
                self._listen_conn.close()
            self._listen_conn = None

    def _producer_or_new(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.settings)
        return self._producer

    def _leading(self) -> Connection | None:
        """The connection the leader reads and moves positions on, or None while another
        relay leads. On PostgreSQL it holds the advisory lock, which lives as long as its
        session: a statement that fails on it means the lock is lost (a database restart)
        and another relay may hold it now."""
        if self.db.dialect != "postgresql":
            return self.db.engine.connect()
        if self._lock_conn is None:
            conn = self.db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"),
                               {"id": RELAY_LOCK_ID}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return None
            self._lock_conn = conn
            self._checked.clear()  # another relay may have published meanwhile
        return self._lock_conn

    def _release(self, conn: Connection, lost: bool) -> None:
        """Close a connection of the pool; the lock's, only once lost."""
        if conn is not self._lock_conn:
            conn.close()
        elif lost:
            log.warning("outbox relay: lost the leadership lock's connection")
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()
            self._lock_conn = None

    def relay_once(self) -> int:
        """Publish one batch; returns how many entries it moved past (0 when idle or
        failing)."""
        conn = self._leading()
        RELAY_LEADER.set(0 if conn is None else 1)
        if conn is None:
            return 0
        lost = False
        try:
            rows = conn.execute(NEXT_ENTRIES_LATERAL if self.db.dialect == "postgresql"
                                else NEXT_ENTRIES, {"limit": self.batch_size}).all()
            conn.commit()
            return self._publish(conn, rows)
        except DBAPIError:
            lost = True
            return 0
        finally:
            self._release(conn, lost)

    def _publish(self, conn: Connection, rows: list[Any]) -> int:
        """Produce the entries read, then move each recipient's position past them."""
        batches: dict[str, list[Any]] = {}
        positions: dict[str, int] = {}
        last_seqs: dict[str, int] = {}
        for row in rows:
            batches.setdefault(row.org_id, [])
            last_seqs[row.org_id] = row.last_seq
            if row.seq is None:  # nothing in the range (no entry should be missing)
                positions[row.org_id] = min(row.published + self.batch_size, row.last_seq)
            else:
                batches[row.org_id].append(row)
                positions[row.org_id] = row.seq
        self.more = any(positions[org] < last_seqs[org] for org in positions)
        if not positions:
            return 0
        topics = {org: feed_topic(self.settings, org) for org in batches}
        try:
            self._ensure(list(topics.values()))
            on_topic = self._published_before(topics)
            producer = self._producer_or_new()
            futures = []
            for org, entries in batches.items():
                for row in entries:
                    if row.seq <= on_topic.get(org, 0):
                        continue  # published by a relay that died before moving on
                    headers = [("ce_id", topic_message_id(org, row.seq).encode())]
                    with self._traced(topics[org], row):
                        if parent := tracing.traceparent():
                            headers.append(("traceparent", parent.encode()))
                        futures.append(producer.send(
                            topics[org], key=row.item_id.encode(),
                            value=feed_text(row.seq, row.delivered_at.isoformat(),
                                            row.envelope).encode(),
                            headers=headers))
            producer.flush(timeout=30)
            for fut in futures:
                fut.get(timeout=0)
        except KafkaError as exc:
            PRODUCE_FAILURES.inc()
            log.warning("outbox relay: broker unavailable (%s); %d waiting", exc, len(rows))
            self.close_producer()
            self.failing = True
            return 0
        self.failing = False
        now = utcnow()
        conn.execute(self._advance, [{"org": org, "seq": seq, "now": now}
                                     for org, seq in sorted(positions.items())])
        conn.commit()
        for org, entries in batches.items():
            published = sum(1 for r in entries if r.seq > on_topic.get(org, 0))
            MESSAGES_PRODUCED.labels(topics[org]).inc(published)
            DELIVERIES.labels("kafka", "delivered").inc(published)
        return len(rows)

    @staticmethod
    def _traced(topic: str, row: Any) -> contextlib.AbstractContextManager:
        """The publication's producer span, in the message's trace (none when off)."""
        if not tracing.enabled():
            return contextlib.nullcontext()
        return tracing.span(f"publish {topic}", tracing.SpanKind.PRODUCER,
                            parent=tracing.carried(row.envelope), **{
                                "messaging.system": "kafka",
                                "messaging.destination.name": topic,
                                "vigie.item_id": row.item_id})

    def _published_before(self, topics: dict[str, str]) -> dict[str, int]:
        """Per recipient, the last feed position already on its topic, for topics not read
        since this relay started producing: a feed topic's last record carries the highest
        position published (one partition, one relay at a time, idempotent producer), so
        an entry at or below it was published by a relay that died before moving on."""
        unchecked = {org: t for org, t in topics.items() if t not in self._checked}
        if not unchecked:
            return {}
        last = last_cursors(self.settings, sorted(unchecked.values()))
        self._checked.update(unchecked.values())
        found = {org: last[t] for org, t in unchecked.items() if t in last}
        if found:
            log.info("outbox relay: records up to %s were on their topics already", found)
        return found

    def _ensure(self, topics: list[str]) -> None:
        """Topics are never auto-created: create those a batch needs (e.g. the feed topic
        of a new organisation) before producing to them."""
        new = sorted(set(topics) - self._known_topics)
        if new:
            ensure_topics(self.settings, new)
            self._known_topics.update(new)

    def close_producer(self) -> None:
        self._checked.clear()  # what a failed batch left on the topics is read again
        if self._producer is not None:
            with contextlib.suppress(Exception):  # closing a broken producer
                self._producer.close(timeout=1)
            self._producer = None

    def run(self, stop: threading.Event) -> None:
        """Relay until stopped: poll briefly when idle, back off while the broker is away."""
        backoff = 0.0
        started = 0.0
        while not stop.is_set():
            if (rest := started + self.pace_seconds - time.monotonic()) > 0:
                stop.wait(rest)
            started = time.monotonic()
            try:
                self.more = False
                sent = self.relay_once()
                failing = self.failing
            except Exception:
                log.exception("outbox relay failed")
                sent, failing = 0, True
            if failing:
                backoff = min(max(backoff * 2, 0.5), 5.0)
                stop.wait(backoff)
                continue
            backoff = 0.0
            if not (sent and self.more):
                # Everything read is on the topics: what commits next notifies (a commit
                # since the read has notified already). A missed notification (e.g. while
                # reconnecting) costs at most a second.
                self._wait_for_commit(self.idle_seconds if self.db.dialect != "postgresql"
                                      else 1.0)
        self.close()

    def close(self) -> None:
        """Stop producing and give up the leadership."""
        self.close_producer()
        self._close_listener()
        self._resign()

    def _resign(self) -> None:
        """The advisory lock lives as long as its session, and a connection closed is only
        returned to the pool, its session (and the lock) alive: another relay in this
        process would not lead until that connection was reused."""
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": RELAY_LOCK_ID})
            conn.commit()
        except DBAPIError:
            conn.invalidate()  # the session is gone, and the lock with it
        conn.close()

    def drain(self, timeout: float = 30.0) -> None:
        """Publish everything waiting (used by tests and at shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.reads() as conn:
                if backlog(conn) == 0:
                    return
            if not self.relay_once():
                time.sleep(0.2)
        raise TimeoutError("the outbox did not drain")


def last_cursors(settings: Settings, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """The cursor of the last record of each (one-partition) feed topic; empty topics are
    left out."""
    consumer = KafkaConsumer(**client_config(settings), client_id="vigie-relay-check",
                             enable_auto_commit=False, group_id=None,
                             isolation_level="read_committed")
    try:
        partitions = [TopicPartition(t, 0) for t in topics]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        wanted = {tp: end for tp, end in ends.items() if end > 0}
        for tp, end in wanted.items():
            consumer.seek(tp, end - 1)
        found: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(wanted):
            if time.monotonic() > deadline:
                raise KafkaTimeoutError("could not read the end of the feed topics")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset == wanted[tp] - 1:
                        found[tp.topic] = int(json.loads(record.value)["cursor"])
        return found
    finally:
        consumer.close(autocommit=False)
