"""Erasure on the recipients' topics. Kafka cannot rewrite a record, but it can delete a
partition's records below an offset (DeleteRecords). When an item is erased, the hub notes
where its last record sits on each recipient's topic; once every consumer group of that
recipient (`<org>.*`) has committed past it — the recipient has its copy and was told to
erase it — the records up to it are deleted from the broker. A recipient that reads
without a committed group (or not at all) keeps the topic's retention as the bound.

A feed topic holds exactly the REST feed in order, one partition, so feed position `n`
is offset `n - 1`; the record there is read back and its message id checked before any
deletion, so a topic that does not hold that invariant is never trimmed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from sqlalchemy import Connection, func, select, update

from ..config import Settings
from ..db import Database, utcnow
from ..metrics import TOPIC_ERASURE_OLDEST, TOPIC_ERASURES, TOPIC_ERASURES_PENDING
from .kafka_client import client_config
from .models import TopicErasure

log = logging.getLogger(__name__)
ERASURES = TopicErasure.__table__


def record(conn: Connection, message_ids: list[tuple[str, str]], now: datetime) -> None:
    """Note, in the erasure's transaction, the last record of the item on each feed topic:
    `message_ids` are (topic, `feed:<org>:<position>`) of the records it had there."""
    last: dict[str, tuple[int, str, str]] = {}
    for topic, message_id in message_ids:
        _, org_id, position = message_id.rsplit(":", 2)
        if topic not in last or int(position) > last[topic][0]:
            last[topic] = (int(position), org_id, message_id)
    if last:
        conn.execute(ERASURES.insert(), [
            {"topic": topic, "org_id": org_id, "position": position, "message_id": mid,
             "erased_at": now} for topic, (position, org_id, mid) in last.items()])


class TopicEraser:
    """Deletes erased items' records from the recipients' topics once read (see above)."""

    def __init__(self, db: Database, settings: Settings, interval: float = 30.0):
        self.db = db
        self.settings = settings
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.erase_once()
            except KafkaError as exc:
                log.warning("topic erasure: broker unavailable (%s)", exc)
            except Exception:
                log.exception("topic erasure failed")
            stop.wait(self.interval)

    def erase_once(self, now: datetime | None = None) -> dict[str, int]:
        """One pass over the pending erasures; returns how many went, by outcome."""
        now = now or utcnow()
        done: dict[str, int] = defaultdict(int)
        with self.db.sessions() as session:
            pending = session.execute(select(ERASURES).where(ERASURES.c.done_at.is_(None))
                                      .order_by(ERASURES.c.id)).all()
        retention = timedelta(milliseconds=self.settings.topic_retention_ms)
        expired = {p.id for p in pending if _aware(p.erased_at) < now - retention}
        if expired:
            done["expired"] += self._mark(list(expired), now, "expired")
        by_topic: dict[str, list] = defaultdict(list)
        for p in pending:
            if p.id not in expired:
                by_topic[p.topic].append(p)
        if by_topic:
            admin = KafkaAdminClient(**client_config(self.settings),
                                     client_id="vigie-topic-eraser", request_timeout_ms=15000)
            reader = KafkaConsumer(**client_config(self.settings),
                                   client_id="vigie-topic-eraser", group_id=None,
                                   enable_auto_commit=False)
            try:
                groups = [g["group_id"] for g in admin.list_groups()]
                for topic, rows in by_topic.items():
                    for outcome, ids in self._erase_topic(admin, reader, groups, topic,
                                                          rows).items():
                        done[outcome] += self._mark(ids, now, outcome)
            finally:
                reader.close(autocommit=False)
                admin.close()
        for outcome, n in done.items():
            TOPIC_ERASURES.labels(outcome).inc(n)
        self._gauge(now)
        return dict(done)

    def _erase_topic(self, admin: KafkaAdminClient, reader: KafkaConsumer,
                     groups: list[str], topic: str, rows: list) -> dict[str, list[int]]:
        """The erasures of one topic done now, by outcome."""
        tp = TopicPartition(topic, 0)
        start = reader.beginning_offsets([tp])[tp]
        out: dict[str, list[int]] = {}
        gone = [r.id for r in rows if r.position <= start]  # the retention took them
        if gone:
            out["expired"] = gone
        rows = [r for r in rows if r.position > start]
        mine = [g for g in groups if g.startswith(f"{rows[0].org_id}.")] if rows else []
        if not mine:
            return out  # nobody reads it through a group: the retention is the bound
        offsets = admin.list_group_offsets({g: [tp] for g in mine})
        committed = [o.offset for g in mine
                     if (o := offsets.get(g, {}).get(tp)) is not None and o.offset >= 0]
        ready = [r for r in rows if committed and r.position <= min(committed)]
        if not ready:
            return out
        last = max(ready, key=lambda r: r.position)
        if not self._holds(reader, tp, last.position - 1, last.message_id):
            log.error("topic erasure: %s offset %d is not %s; not trimmed", topic,
                      last.position - 1, last.message_id)
            return out
        admin.delete_records({tp: last.position})
        log.info("topic erasure: %s trimmed below offset %d (%d erased items)", topic,
                 last.position, len(ready))
        out["deleted"] = [r.id for r in ready]
        return out

    @staticmethod
    def _holds(reader: KafkaConsumer, tp: TopicPartition, offset: int, message_id: str,
               timeout: float = 10.0) -> bool:
        """Whether the record at `offset` is the message `message_id`."""
        reader.assign([tp])
        reader.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in reader.poll(timeout_ms=500).values():
                for r in records:
                    if r.offset == offset:
                        return dict(r.headers or []).get("ce_id") == message_id.encode()
                    if r.offset > offset:
                        return False
        return False

    def _mark(self, ids: list[int], now: datetime, outcome: str) -> int:
        with self.db.transaction() as session:
            session.execute(update(TopicErasure).where(TopicErasure.id.in_(ids))
                            .values(done_at=now, outcome=outcome))
        return len(ids)

    def _gauge(self, now: datetime) -> None:
        with self.db.sessions() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(ERASURES.c.erased_at))
                .where(ERASURES.c.done_at.is_(None))).one()
        TOPIC_ERASURES_PENDING.set(count)
        TOPIC_ERASURE_OLDEST.set((now - _aware(oldest)).total_seconds() if oldest else 0)


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes when aggregated (min()); they are UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
