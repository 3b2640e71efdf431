"""The fault suite: while senders keep submitting, the broker, the consumers process, the
writer process and the whole API are killed with SIGKILL and PostgreSQL is
crash-restarted. Afterwards
every accepted submission must sit in exactly one position of its recipient's feed.

The hub runs as in production (separate API and consumers processes, PostgreSQL, the
real broker); the senders retry with the same Idempotency-Key until answered 201, as a
client of a government hub is told to.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from services.config import ROOT, Settings
from services.exchanges.models import Item
from services.messaging.kafka_client import client_config
from services.messaging.topics import feed_topic
from services.runner import LOCAL_LOAD_LIMITS, HubProcesses, wait_http
from tests.conftest import topic_entries
from tests.load import SENDERS, Load

pytestmark = pytest.mark.faults
FIGURES: dict[str, object] = {}
RECIPIENTS = ("miviludes", "dgs", "cnop", "plateforme-alpha", "plateforme-beta")


@pytest.fixture
def hub(broker, database_factory, tmp_path):
    procs = HubProcesses(tmp_path, database_factory("postgresql"), broker.settings.kafka_port,
                         extra_env=LOCAL_LOAD_LIMITS)
    procs.start()
    yield procs
    procs.stop()


def _published(engine) -> int:
    """Feed entries the relay has marked as on their topics (its positions)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(sum(published_seq), 0) "
                                 "FROM topic_positions")).scalar()


def _kill_broker(broker) -> None:
    pid = broker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.answers(timeout=0.5):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _wait_relay(engine, timeout: float = 60) -> None:
    """Until the relay publishes again (each fault on a recovered hub)."""
    before = _published(engine)
    deadline = time.monotonic() + timeout
    while _published(engine) == before:
        assert time.monotonic() < deadline, "the relay never resumed"
        time.sleep(0.2)


class Topics:
    """The end offsets of the recipients' own topics."""

    def __init__(self, settings: Settings, orgs: list[str]):
        self.partitions = [TopicPartition(feed_topic(settings, org), 0) for org in orgs]
        self.consumer = KafkaConsumer(**client_config(settings), group_id=None,
                                      client_id="fault-suite")

    def records(self) -> int:
        return sum(self.consumer.end_offsets(self.partitions).values())

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def _kill_relay_mid_batch(hub: HubProcesses, engine, topics: Topics) -> int:
    """Let a backlog build with the relay frozen, then kill -9 it between producing a batch
    and marking it published; returns how many records were on the topics but not marked
    when the kill came.

    The window is held open, not raced: the test row-locks the topic positions (as a slow
    or contended database would), so the relay's produce succeeds and its UPDATE waits. The
    freeze may itself have caught the relay there (produced, not yet marked): either way
    the kill comes once some records are on the topics and not marked. A freeze that
    caught it moving a position (holding that row) would make the lock wait on a stopped
    process: then it runs a moment and is frozen again."""
    with engine.connect() as lock:
        for _ in range(10):
            hub.pause_consumers(True)
            time.sleep(2.5)
            try:
                locked = lock.execute(text("SELECT org_id FROM topic_positions "
                                           "ORDER BY org_id FOR UPDATE NOWAIT")).all()
                break
            except OperationalError:
                lock.rollback()
                hub.pause_consumers(False)
                time.sleep(0.2)
        else:
            raise AssertionError("the relay was frozen holding a position ten times")
        assert locked, "no topic position to hold"
        backlog = lock.execute(text(
            "SELECT coalesce(sum(h.last_seq - p.published_seq), 0) FROM feed_heads h "
            "JOIN topic_positions p ON p.org_id = h.org_id")).scalar()
        assert backlog, "no backlog built while the relay was frozen"
        hub.pause_consumers(False)
        deadline = time.monotonic() + 30
        while topics.records() - _published(engine) < 1:
            assert time.monotonic() < deadline, "the relay never resumed"
            time.sleep(0.01)
        time.sleep(0.5)  # the rest of the batch reaches the broker; the UPDATE still waits
        hub.kill_consumers()
        lock.rollback()
    return topics.records() - _published(engine)


def test_no_accepted_message_lost_or_duplicated_under_faults(hub, broker, postgres_admin_url):
    engine = create_engine(hub.env["VIGIE_DATABASE_URL"], pool_pre_ping=True)
    settings = Settings.from_env(hub.env)
    topics = Topics(settings, list(RECIPIENTS))
    load = Load(hub.url, {s: hub.token(s) for s in SENDERS}, senders=4, rate=50)
    thread, stop = load.in_background()
    faults: list[str] = []
    try:
        time.sleep(3)
        _kill_broker(broker)
        faults.append("broker kill -9")
        time.sleep(4)
        broker.start()
        _wait_relay(engine)

        time.sleep(3)
        handled = _kill_relay_mid_batch(hub, engine, topics)
        faults.append(f"relay kill -9 mid-batch ({handled} records on the topics, not "
                      "marked published)")
        hub.start_consumers()
        _wait_relay(engine)

        time.sleep(3)
        writer = hub.processes()["api-writer"]
        os.kill(writer, signal.SIGKILL)  # alone: the supervisor starts another
        faults.append("writer process kill -9")
        deadline = time.monotonic() + 60
        while hub.processes().get("api-writer") in (None, writer):
            assert time.monotonic() < deadline, "the writer process was not replaced"
            time.sleep(0.2)

        time.sleep(3)
        os.killpg(hub.api.pid, signal.SIGKILL)
        hub.api.wait(timeout=30)
        faults.append("API kill -9")
        time.sleep(1)
        hub.start_api()

        time.sleep(3)
        subprocess.run([str(ROOT / "tools" / "postgres.sh"), "crash-restart"], check=True,
                       capture_output=True)
        faults.append("PostgreSQL crash restart")
        time.sleep(4)
    finally:
        stop.set()
        thread.join(timeout=180)
    load_ended = time.monotonic()
    wait_http(f"{hub.url}/readyz")
    # The processes waited the faults out: none of them died of it.
    assert hub.consumers.poll() is None, "the consumers process died"
    assert hub.api.poll() is None, "the API process died"
    result = load.result
    assert not thread.is_alive()
    assert not result.failed, (dict(result.failed), result.failures[:5])
    assert len(result.accepted) > 500

    wanted: dict[str, set[str]] = defaultdict(set)
    for a in result.accepted:
        wanted[a.recipient].add(a.item_id)
    deadline = time.monotonic() + 180
    while True:
        feeds = {org: hub.feed(org) for org in wanted}
        seen = {org: Counter(i["event"]["subject"] for i in items
                             if i["event"]["type"].endswith(".submitted"))
                for org, items in feeds.items()}
        lost = sum(len(ids - set(seen[org])) for org, ids in wanted.items())
        if lost == 0 or time.monotonic() > deadline:
            recovery = time.monotonic() - load_ended
            break
        time.sleep(1)
    duplicated = sum(n - 1 for counts in seen.values() for n in counts.values() if n > 1)
    unexpected = sum(len(set(seen[org]) - ids) for org, ids in wanted.items())
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Item)).scalar()
    cursors_ok = all([int(i["cursor"]) for i in items] == list(range(1, len(items) + 1))
                     for items in feeds.values())
    # Each recipient's own topic: exactly its REST feed, once each, in the same order.
    deadline = time.monotonic() + 120
    while True:
        on_topics = {org: topic_entries(settings, org) for org in wanted}
        if on_topics == feeds or time.monotonic() > deadline:
            break
        time.sleep(1)
    topic_lost = sum(len({i["cursor"] for i in feeds[o]} - {i["cursor"] for i in on_topics[o]})
                     for o in wanted)
    topic_duplicated = sum(len(on_topics[o]) - len({i["cursor"] for i in on_topics[o]})
                           for o in wanted)
    topics.close()
    engine.dispose()

    FIGURES.update(faults=faults, accepted=len(result.accepted), attempts=result.attempts,
                   retried=dict(result.retried), lost=lost, duplicated=duplicated,
                   topic_lost=topic_lost, topic_duplicated=topic_duplicated,
                   stored=stored, recipients=len(wanted), load_seconds=round(result.seconds),
                   recovery_seconds=round(recovery, 1))
    assert set(wanted) <= set(RECIPIENTS)
    assert lost == 0
    assert duplicated == 0
    assert topic_lost == 0 and topic_duplicated == 0
    assert on_topics == feeds
    assert unexpected == 0
    # Retries with the same key never created a second item.
    assert stored == len(result.accepted)
    # Each feed is a gapless sequence: one position per message.
    assert cursors_ok
    # The kill really hit a batch in progress.
    assert handled >= 1 and len(faults) == 5
    # Crashes left the verifiable log whole: the audit chain and the evidence are what
    # the signed checkpoints say, and the log only ever grew.
    audit_report = json.loads(hub.vigie("audit", "verify"))
    assert audit_report["intact"] and audit_report["entries"] >= len(result.accepted)
    FIGURES.update(audit_entries=audit_report["entries"])
    assert FIGURES["topic_lost"] == 0
