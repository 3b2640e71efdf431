"""The transactional outbox: each recipient's topic record is written in the transaction
that puts the message in its REST feed, so a 2xx answer means durable even while the
broker is down; the relay publishes them to Kafka in order and marks them, at least once
(the record's `cursor` — its feed position — lets a consumer drop a duplicate).

The relay is woken by commits: PostgreSQL LISTEN/NOTIFY across processes, a direct call
within one; it polls only on SQLite across processes."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import Database, utcnow
from ..metrics import DELIVERIES, MESSAGES_PRODUCED, PRODUCE_FAILURES, RELAY_LEADER
from ..writes.group import OUTBOX_CHANNEL
from .kafka_client import client_config
from .models import OutboxMessage
from .topics import ensure_topics

log = logging.getLogger(__name__)
RELAY_LOCK_ID = 0x76696769  # PostgreSQL advisory lock: one relay at a time keeps order


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.published_at.is_(None))) or 0


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
                 idle_seconds: float = 0.05):
        self.db = db
        self.settings = settings
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._producer: KafkaProducer | None = None
        self._lock_conn = None
        self.failing = False  # the broker refused the last batch: back off
        self._known_topics: set[str] = set()
        # Topics whose end this relay has read since it last started producing: a record
        # published before a crash, but not marked, is then skipped, never sent twice.
        self._checked: set[str] = set()
        self._woken = threading.Event()
        self._listen_conn = None

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

    def _hold_leadership(self) -> bool:
        if self.db.dialect != "postgresql":
            return True
        if self._lock_conn is not None:
            # The lock lives as long as its session: after a database restart the
            # connection is gone and so is the lock, which another relay may now hold.
            try:
                self._lock_conn.execute(text("SELECT 1"))
                self._lock_conn.commit()
            except Exception:  # noqa: BLE001 - any failure means the lock is lost
                log.warning("outbox relay: lost the leadership lock's connection")
                with contextlib.suppress(Exception):
                    self._lock_conn.invalidate()
                    self._lock_conn.close()
                self._lock_conn = None
        if self._lock_conn is None:
            conn = self.db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"),
                               {"id": RELAY_LOCK_ID}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return False
            self._lock_conn = conn
            self._checked.clear()  # another relay may have published meanwhile
        return True

    def relay_once(self) -> int:
        """Publish one batch; returns how many were published (0 when idle or failing)."""
        leader = self._hold_leadership()
        RELAY_LEADER.set(1 if leader else 0)
        if not leader:
            return 0
        with self.db.sessions() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.id).limit(self.batch_size)).all()
        if not rows:
            return 0
        try:
            self._ensure(rows)
            sent_already = self._published_before(rows)
            if sent_already:
                with self.db.transaction() as session:
                    session.execute(update(OutboxMessage)
                                    .where(OutboxMessage.id.in_(sent_already))
                                    .values(published_at=utcnow()))
                log.info("outbox relay: %d records were on their topics already",
                         len(sent_already))
                rows = [r for r in rows if r.id not in set(sent_already)]
            producer = self._producer_or_new()
            futures = [(row, producer.send(row.topic, key=row.key.encode(),
                                           value=row.payload.encode(),
                                           headers=[("ce_id", row.message_id.encode())]))
                       for row in rows]
            producer.flush(timeout=30)
            done = []
            for row, fut in futures:
                fut.get(timeout=0)
                done.append(row.id)
        except KafkaError as exc:
            PRODUCE_FAILURES.inc()
            log.warning("outbox relay: broker unavailable (%s); %d waiting", exc, len(rows))
            self.close_producer()
            self.failing = True
            return 0
        self.failing = False
        with self.db.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(done))
                            .values(published_at=utcnow()))
        feed_prefix = f"{self.settings.topic_prefix}feed."
        for row in rows:
            MESSAGES_PRODUCED.labels(row.topic).inc()
            if row.topic.startswith(feed_prefix):
                DELIVERIES.labels("kafka", "delivered").inc()
        return len(done)

    def _published_before(self, rows: list[OutboxMessage]) -> list[int]:
        """The rows already on their topic: a feed topic's last record carries the highest
        feed position published (one partition, one relay at a time, idempotent producer),
        so a row at or below it was published by a relay that died before marking it."""
        unchecked = sorted({r.topic for r in rows} - self._checked)
        if not unchecked:
            return []
        last = last_cursors(self.settings, unchecked)
        self._checked.update(unchecked)
        return [r.id for r in rows if r.topic in last and _position(r) <= last[r.topic]]

    def _ensure(self, rows: list[OutboxMessage]) -> None:
        """Topics are never auto-created: create those a batch needs (e.g. the feed topic
        of a new organisation) before producing to them."""
        new = sorted({row.topic for row in rows} - self._known_topics)
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
        while not stop.is_set():
            try:
                sent = self.relay_once()
                failing = self.failing
            except Exception:
                log.exception("outbox relay failed")
                sent, failing = 0, True
            if sent:
                backoff = 0.0
                continue
            if failing:
                backoff = min(max(backoff * 2, 0.5), 5.0)
                stop.wait(backoff)
            else:
                # A missed notification (e.g. while reconnecting) costs at most a second.
                self._wait_for_commit(self.idle_seconds if self.db.dialect != "postgresql"
                                      else 1.0)
        self.close_producer()
        self._close_listener()
        if self._lock_conn is not None:
            self._lock_conn.close()

    def drain(self, timeout: float = 30.0) -> None:
        """Publish everything waiting (used by tests and at shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.sessions() as session:
                if backlog(session) == 0:
                    return
            if not self.relay_once():
                time.sleep(0.2)
        raise TimeoutError("the outbox did not drain")


def _position(row: OutboxMessage) -> int:
    """The feed position of a feed topic's row (message id `feed:<org>:<seq>`)."""
    return int(row.message_id.rsplit(":", 1)[1])


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
