"""One way to consume: a consumer group, a handler per envelope inside a database
transaction (one per polled batch) that also records the message ids, and offsets
committed only after.

A crash between the database commit and the offset commit redelivers the batch;
the recorded message ids make the redelivery a no-op (duplicates dropped).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from schemas.envelope import Envelope
from services.config import Settings
from services.db import Database
from services.messaging.kafka_client import client_config
from services.messaging.models import ConsumerReject, ProcessedMessage
from services.metrics import MESSAGES_CONSUMED

log = logging.getLogger(__name__)
Handler = Callable[[Session, Envelope], None]


@dataclass
class ConsumerSpec:
    group: str
    topics: list[str]
    handler: Handler


def make_consumer(settings: Settings, spec: ConsumerSpec, client_id: str) -> KafkaConsumer:
    return KafkaConsumer(
        *spec.topics,
        **client_config(settings), group_id=spec.group, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        isolation_level="read_committed", max_poll_records=200,
        session_timeout_ms=10000, heartbeat_interval_ms=3000,
    )


def process(db: Database, spec: ConsumerSpec,
            records: list[tuple[str, int, int, bytes]]) -> Counter:
    """Handle a polled batch exactly once, in one transaction: every record's message id
    is recorded with its effects, so a redelivered record is a no-op. One commit (and one
    duplicate look-up) serves the whole batch. Returns the outcomes by (topic, outcome)."""
    outcomes: Counter = Counter()
    parsed: list[tuple[str, Envelope]] = []
    rejects: list[ConsumerReject] = []
    for topic, partition, offset, raw in records:
        try:
            parsed.append((topic, Envelope.from_json(raw)))
        except ValidationError as exc:
            log.error("rejected record %s/%d@%d: %s", topic, partition, offset, exc)
            rejects.append(ConsumerReject(consumer_group=spec.group, topic=topic,
                                          partition=partition, offset=offset,
                                          reason=str(exc)[:2000],
                                          payload=raw.decode("utf-8", "replace")))
            outcomes[(topic, "rejected")] += 1
    with db.transaction() as session:
        session.add_all(rejects)
        seen = set(session.scalars(select(ProcessedMessage.message_id).where(
            ProcessedMessage.consumer_group == spec.group,
            ProcessedMessage.message_id.in_([e.id for _, e in parsed])))) if parsed else set()
        for topic, envelope in parsed:
            if envelope.id in seen:
                outcomes[(topic, "duplicate")] += 1
                continue
            seen.add(envelope.id)  # also a duplicate later in the same batch
            session.add(ProcessedMessage(consumer_group=spec.group, message_id=envelope.id))
            spec.handler(session, envelope)
            outcomes[(topic, "processed")] += 1
    return outcomes


def run(db: Database, settings: Settings, spec: ConsumerSpec, stop: threading.Event,
        client_id: str = "vigie-consumer") -> None:
    """Consume until stopped; a lost broker is waited for, never fatal."""
    backoff = 0.5
    while not stop.is_set():
        consumer = None
        try:
            consumer = make_consumer(settings, spec, client_id)
            backoff = 0.5
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=500)
                if not batches:
                    continue
                records = [(tp.topic, tp.partition, r.offset, r.value)
                           for tp, batch in batches.items() for r in batch]
                for (topic, outcome), n in process(db, spec, records).items():
                    MESSAGES_CONSUMED.labels(spec.group, topic, outcome).inc(n)
                consumer.commit()
        except (KafkaError, OperationalError, InterfaceError) as exc:
            # The broker or the database is away. Uncommitted records come again after
            # reconnecting; their recorded ids make them no-ops.
            log.warning("consumer %s: %s; reconnecting in %.1fs", spec.group, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        finally:
            if consumer is not None:
                with contextlib.suppress(Exception):
                    consumer.close(autocommit=False)
