"""Consumer lag: how far each delivery group is behind the end of its topics."""

from __future__ import annotations

import logging
import threading

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from prometheus_client import Gauge

from services.config import Settings
from services.messaging.kafka_client import client_config

from .framework import ConsumerSpec

log = logging.getLogger(__name__)
LAG = Gauge("vigie_consumer_lag", "Records not yet consumed, by consumer group", ["group"])


def measure(admin: KafkaAdminClient, spec: ConsumerSpec) -> int:
    committed = admin.list_group_offsets({spec.group: None}).get(spec.group, {})
    partitions = [TopicPartition(topic, p["partition_index"])
                  for topic, described in zip(spec.topics, admin.describe_topics(spec.topics),
                                              strict=True)
                  for p in described["partitions"]]
    ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    lag = 0
    for tp in partitions:
        done = committed.get(tp)
        lag += max(0, ends[tp].offset - (done.offset if done and done.offset >= 0 else 0))
    return lag


def run(settings: Settings, specs: list[ConsumerSpec], stop: threading.Event,
        every_seconds: float = 15.0) -> None:
    while not stop.is_set():
        try:
            admin = KafkaAdminClient(**client_config(settings), client_id="vigie-lag",
                                     request_timeout_ms=10000)
            try:
                for spec in specs:
                    LAG.labels(spec.group).set(measure(admin, spec))
            finally:
                admin.close()
        except Exception as exc:  # noqa: BLE001 - a metric must never stop delivery
            log.warning("consumer lag not measured: %s", exc)
        stop.wait(every_seconds)
