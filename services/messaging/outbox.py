"""The transactional outbox: messages are written in the same database transaction as
the state change, so a 2xx answer means durable even while the broker is down; the
relay publishes them to Kafka in order and marks them, at least once (consumers
drop duplicates by message id)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from schemas.envelope import Envelope

from ..config import Settings
from ..db import Database, utcnow
from ..metrics import DELIVERIES, MESSAGES_PRODUCED, PRODUCE_FAILURES
from .kafka_client import client_config
from .models import OutboxMessage
from .topics import ensure_topics

log = logging.getLogger(__name__)
RELAY_LOCK_ID = 0x76696769  # PostgreSQL advisory lock: one relay at a time keeps order


def enqueue(session: Session, topic: str, envelope: Envelope) -> None:
    """Key by correlation id: messages about one case share a partition, so keep order."""
    session.add(OutboxMessage(message_id=envelope.id, topic=topic, key=envelope.correlationid,
                              payload=envelope.to_json().decode()))


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
        return True

    def relay_once(self) -> int:
        """Publish one batch; returns how many were published (0 when idle or failing)."""
        if not self._hold_leadership():
            return 0
        with self.db.sessions() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.id).limit(self.batch_size)).all()
        if not rows:
            return 0
        try:
            self._ensure(rows)
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
            topic = rows[0].topic
            PRODUCE_FAILURES.labels(topic).inc()
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

    def _ensure(self, rows: list[OutboxMessage]) -> None:
        """Topics are never auto-created: create those a batch needs (e.g. the feed topic
        of a new organisation) before producing to them."""
        new = sorted({row.topic for row in rows} - self._known_topics)
        if new:
            ensure_topics(self.settings, new)
            self._known_topics.update(new)

    def close_producer(self) -> None:
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
            backoff = min(max(backoff * 2, 0.5), 5.0) if failing else self.idle_seconds
            stop.wait(backoff)
        self.close_producer()
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
