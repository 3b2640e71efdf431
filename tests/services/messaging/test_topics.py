"""Topics are created explicitly, with a retention: Kafka carries messages about people,
it does not keep them (the hub's database is the record)."""

from __future__ import annotations

import uuid

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from services.config import Settings
from services.messaging.topics import ensure_topics


def test_topics_are_created_with_the_configured_retention(broker):
    prefix = f"r{uuid.uuid4().hex[:8]}."
    settings = Settings.from_env({"VIGIE_KAFKA_PORT": str(broker.settings.kafka_port),
                                  "VIGIE_TOPIC_PREFIX": prefix,
                                  "VIGIE_TOPIC_RETENTION_MS": "86400000"})
    names = [f"{prefix}exchange.information-requests", f"{prefix}feed.miviludes"]
    assert ensure_topics(settings, names) == names
    assert ensure_topics(settings, names) == []  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names])["topic"]
    finally:
        admin.close()
    assert {n: configs[n]["retention.ms"]["value"] for n in names} == dict.fromkeys(
        names, "86400000")
