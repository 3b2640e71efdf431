"""Erasure reaches the recipients' Kafka topics: once a recipient's consumer groups have
read past an erased item's records, the broker deletes them; until then (or for a
recipient that reads without a group) they stay, counted, until the topic's retention."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select, update

from services.db import utcnow
from services.exchanges.models import Item
from services.messaging.erasures import TopicEraser
from services.messaging.kafka_client import client_config
from services.messaging.models import TopicErasure
from services.messaging.topics import feed_topic
from services.metrics import TOPIC_ERASURES_PENDING
from services.retention.service import purge
from tests.conftest import (
    NO_ACTION,
    build_stack,
    example_notice,
    stop_consumers,
    topic_entries,
    wait_topic_matches_feed,
)


@pytest.fixture
def own_stack(broker, database_factory, tmp_path):
    """Its own database and topics: the test deletes records from them."""
    s = build_stack("postgresql", database_factory("postgresql"), tmp_path / "state")
    yield s
    stop_consumers(s)
    s.hub.stop()
    s.hub.db.engine.dispose()


def _read_and_commit(stack, org_id: str, group: str) -> None:
    """The recipient's system reads its whole topic in a group and commits."""
    tp = TopicPartition(feed_topic(stack.settings, org_id), 0)
    consumer = KafkaConsumer(**client_config(stack.settings), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            consumer.poll(timeout_ms=500)
        consumer.commit()
    finally:
        consumer.close(autocommit=False)


def _subjects(stack, org_id: str) -> list[str]:
    return [e["event"]["subject"] for e in topic_entries(stack.settings, org_id)]


def test_erased_items_leave_the_topics_once_read(own_stack):
    stack = own_stack
    notifier, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    secret = f"https://video.plateforme-alpha.example/watch?v=temoin-{uuid.uuid4().hex}"
    erased = notifier.post("/v1/content-notices", example_notice(urls=[secret])).json()
    kept = notifier.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(kept["id"])
    assert platform.post(f"/v1/content-notices/{erased['id']}/decision",
                         NO_ACTION).status_code == 201
    for org in ("plateforme-alpha", "vigilance-alpha"):
        wait_topic_matches_feed(stack, org)
    assert secret in json.dumps(topic_entries(stack.settings, "plateforme-alpha"))
    _read_and_commit(stack, "plateforme-alpha", "plateforme-alpha.moderation")

    with stack.hub.db.transaction() as session:
        session.execute(update(Item).where(Item.id == erased["id"])
                        .values(updated_at=utcnow() - timedelta(days=4 * 365)))
    assert purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())[
        "content-notices"] == 1
    eraser = TopicEraser(stack.hub.db, stack.settings)

    # The platform read its topic: the erased notice's record is deleted there, the
    # notice after it stays.
    assert eraser.erase_once() == {"deleted": 1}
    assert secret not in json.dumps(topic_entries(stack.settings, "plateforme-alpha"))
    assert _subjects(stack, "plateforme-alpha") == [kept["id"]]
    # The notifier's topic (the decision, with the notice) is read by no group: kept,
    # and counted, until its system reads past it.
    assert erased["id"] in _subjects(stack, "vigilance-alpha")
    assert TOPIC_ERASURES_PENDING._value.get() == 1
    _read_and_commit(stack, "vigilance-alpha", "vigilance-alpha.signalements")
    assert eraser.erase_once() == {"deleted": 1}
    assert erased["id"] not in _subjects(stack, "vigilance-alpha")
    assert TOPIC_ERASURES_PENDING._value.get() == 0
    assert eraser.erase_once() == {}


def test_a_topic_not_holding_the_feed_is_never_trimmed(own_stack):
    """If the record at the expected offset is not the erased item's, nothing is deleted."""
    stack = own_stack
    notifier, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    first = notifier.post("/v1/content-notices", example_notice()).json()
    second = notifier.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(second["id"])
    wait_topic_matches_feed(stack, "plateforme-alpha")
    _read_and_commit(stack, "plateforme-alpha", "plateforme-alpha.moderation")
    with stack.hub.db.transaction() as session:
        session.add(TopicErasure(topic=feed_topic(stack.settings, "plateforme-alpha"),
                                 org_id="plateforme-alpha", position=2,
                                 message_id="feed:plateforme-alpha:1", erased_at=utcnow()))
    eraser = TopicEraser(stack.hub.db, stack.settings)
    assert eraser.erase_once() == {}
    assert _subjects(stack, "plateforme-alpha") == [first["id"], second["id"]]
    # The topic's retention is the bound: past it, the erasure is counted as done.
    later = utcnow() + timedelta(milliseconds=stack.settings.topic_retention_ms, days=1)
    assert eraser.erase_once(later) == {"expired": 1}
    with stack.hub.db.sessions() as session:
        assert session.scalar(select(TopicErasure.outcome)) == "expired"
