"""Kafka topic names and their explicit creation (the broker never auto-creates)."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ..config import Settings
from .kafka_client import client_config


def feed_topic(settings: Settings, org_id: str) -> str:
    """An organisation's own topic: its feed, in order (one partition)."""
    return feed_topic_name(settings.topic_prefix, org_id)


def feed_topic_name(prefix: str, org_id: str) -> str:
    """The same, from the prefix alone (what an erasure carries to the writer process)."""
    return f"{prefix}feed.{org_id}"


def topic_message_id(org_id: str, seq: int) -> str:
    """The id of feed entry `seq`'s record on the recipient's topic (its `ce_id` header):
    what an erasure checks at that offset before deleting up to it."""
    return f"feed:{org_id}:{seq}"


def partitions_for(settings: Settings, topic: str) -> int:
    return 1 if topic.startswith(f"{settings.topic_prefix}feed.") else settings.topic_partitions


def ensure_topics(settings: Settings, names: list[str]) -> list[str]:
    """Create the missing topics (feeds: one partition; exchanges: the configured count);
    returns those created."""
    admin = KafkaAdminClient(**client_config(settings), client_id="vigie-admin",
                             request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        replication = settings.topic_replication
        configs = {"min.insync.replicas": str(min(2, replication)),
                   "retention.ms": str(settings.topic_retention_ms)}
        wanted = [NewTopic(name=n, num_partitions=partitions_for(settings, n),
                           replication_factor=replication, topic_configs=configs)
                  for n in names if n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        admin.close()
