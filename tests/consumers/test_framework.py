"""The consumer framework: duplicates dropped by message id, bad records parked."""

from __future__ import annotations

import uuid

from kafka import KafkaProducer
from sqlalchemy import select

from schemas.envelope import Envelope
from services.messaging.models import ConsumerReject
from services.messaging.topics import exchange_topic
from tests.conftest import events_for


def _envelope(subject: str) -> Envelope:
    return Envelope(type="fr.gouv.vigie.information-requests.submitted",
                    source="/tests", subject=subject, senderorg="tj-paris",
                    recipientorg="dgs", correlationid=subject, data={"test": True})


def test_redelivered_messages_reach_the_feed_once(stack):
    topic = exchange_topic(stack.settings, "information-requests")
    envelope = _envelope(f"dup-{uuid.uuid4()}")
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    try:
        for _ in range(3):  # as a relay that died before marking its batch would
            producer.send(topic, key=envelope.correlationid.encode(), value=envelope.to_json())
        marker = _envelope(f"marker-{uuid.uuid4()}")
        producer.send(topic, key=envelope.correlationid.encode(), value=marker.to_json())
        producer.flush()
    finally:
        producer.close()
    dgs = stack.api("dgs")
    feed = dgs.wait_feed(lambda f: events_for(f, marker.subject) == ["submitted"])
    assert events_for(feed, envelope.subject) == ["submitted"]


def test_undecodable_records_are_parked_not_lost(stack):
    topic = exchange_topic(stack.settings, "information-requests")
    bad = b'{"specversion": "1.0", "id": "' + uuid.uuid4().hex.encode() + b'"}'
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    try:
        producer.send(topic, key=b"k", value=bad)
        marker = _envelope(f"marker-{uuid.uuid4()}")
        producer.send(topic, key=b"k", value=marker.to_json())
        producer.flush()
    finally:
        producer.close()
    stack.api("dgs").wait_feed(lambda f: events_for(f, marker.subject) == ["submitted"])
    with stack.hub.db.sessions() as session:
        payloads = session.scalars(select(ConsumerReject.payload)).all()
    assert bad.decode() in payloads
