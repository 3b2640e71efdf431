"""The local broker: the real Apache Kafka server, started idempotently."""

from __future__ import annotations

import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from services.local_broker import kafka_version
from services.messaging.topics import ensure_topics


def test_start_twice_is_harmless(broker):
    first = broker.status()
    again = broker.start()
    assert again["running"] and again["pid"] == first["pid"]
    assert again["version"] == kafka_version() == "4.3.1"
    assert str(broker.home).startswith(str(broker.settings.state_dir))


def test_topics_are_explicit(broker):
    settings = broker.settings
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_block_ms=3000)
    try:
        missing = f"never-created-{uuid.uuid4().hex}"
        try:
            producer.send(missing, b"x").get(timeout=5)
            raised = False
        except KafkaError:
            raised = True
        assert raised, "the broker auto-created a topic"
        name = f"explicit-{uuid.uuid4().hex}"
        assert ensure_topics(settings, [name]) == [name]
        assert ensure_topics(settings, [name]) == []
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            described = admin.describe_topics([name])
        finally:
            admin.close()
        assert len(described[0]["partitions"]) == settings.topic_partitions
        producer.send(name, key=b"k", value=b"hello").get(timeout=10)
        consumer = KafkaConsumer(name, bootstrap_servers=settings.kafka_bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        try:
            assert [r.value for r in consumer] == [b"hello"]
        finally:
            consumer.close()
    finally:
        producer.close()
