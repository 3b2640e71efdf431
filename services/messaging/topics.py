"""Kafka topic names and their explicit creation (the broker never auto-creates)."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ..config import Settings


def exchange_topic(settings: Settings, exchange: str, lane: str = "standard") -> str:
    """vigie.exchange.<name>, and vigie.exchange.<name>.<lane> for the other lanes."""
    base = f"{settings.topic_prefix}exchange.{exchange}"
    return base if lane == "standard" else f"{base}.{lane}"


def ensure_topics(settings: Settings, names: list[str]) -> list[str]:
    """Create the missing topics with the configured partition count; returns those created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                             client_id="vigie-admin", request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        replication = settings.topic_replication
        configs = {"min.insync.replicas": str(min(2, replication))}
        wanted = [NewTopic(name=n, num_partitions=settings.topic_partitions,
                           replication_factor=replication, topic_configs=configs)
                  for n in names if n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        admin.close()
