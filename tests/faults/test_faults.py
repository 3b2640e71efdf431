"""The fault suite: while senders keep submitting, the broker, the consumers process and
the API process are killed with SIGKILL and PostgreSQL is crash-restarted. Afterwards
every accepted submission must sit in exactly one position of its recipient's feed.

The hub runs as in production (separate API and consumers processes, PostgreSQL, the
real broker); the senders retry with the same Idempotency-Key until answered 201, as a
client of a government hub is told to.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter, defaultdict

import pytest
from sqlalchemy import create_engine, func, select, text

from services.config import ROOT
from services.exchanges.models import Item
from services.runner import HubProcesses, wait_http
from tests.load import SENDERS, Load

pytestmark = pytest.mark.faults
FIGURES: dict[str, object] = {}


@pytest.fixture
def hub(broker, database_factory, tmp_path):
    procs = HubProcesses(tmp_path, database_factory("postgresql"), broker.settings.kafka_port)
    procs.start()
    yield procs
    procs.stop()


def _processed(engine, group: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM processed_messages "
                                 "WHERE consumer_group = :g"), {"g": group}).scalar()


def _kill_broker(broker) -> None:
    pid = broker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.answers(timeout=0.5):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _wait_deliveries(hub: HubProcesses, engine, timeout: float = 60) -> None:
    """Until the delivery consumers handle records again (each fault on a recovered hub)."""
    group = f"{hub.env['VIGIE_TOPIC_PREFIX']}delivery"
    before = _processed(engine, group)
    deadline = time.monotonic() + timeout
    while _processed(engine, group) == before:
        assert time.monotonic() < deadline, "deliveries never resumed"
        time.sleep(0.2)


def _kill_consumer_mid_batch(hub: HubProcesses, engine) -> int:
    """Let a backlog build with the consumers frozen, thaw them, and kill -9 as soon as
    the first batch is committed to the database — before its offsets are committed to
    Kafka, while the next batch is being handled; returns how many records the database
    had taken when the kill came."""
    group = f"{hub.env['VIGIE_TOPIC_PREFIX']}delivery"
    hub.pause_consumers(True)
    time.sleep(2.5)
    before = _processed(engine, group)
    hub.pause_consumers(False)
    deadline = time.monotonic() + 20
    while (now := _processed(engine, group)) == before:
        assert time.monotonic() < deadline, "the consumers never resumed"
        time.sleep(0.005)
    hub.kill_consumers()
    return now - before


def test_no_accepted_message_lost_or_duplicated_under_faults(hub, broker, postgres_admin_url):
    engine = create_engine(hub.env["VIGIE_DATABASE_URL"], pool_pre_ping=True)
    load = Load(hub.url, {s: hub.token(s) for s in SENDERS}, senders=4, rate=50)
    thread, stop = load.in_background()
    faults: list[str] = []
    try:
        time.sleep(3)
        _kill_broker(broker)
        faults.append("broker kill -9")
        time.sleep(4)
        broker.start()
        _wait_deliveries(hub, engine)

        time.sleep(3)
        handled = _kill_consumer_mid_batch(hub, engine)
        faults.append(f"consumers kill -9 mid-batch ({handled} records in the database, "
                      "their offsets not committed)")
        hub.start_consumers()
        _wait_deliveries(hub, engine)

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
    assert not result.failed, result.failures[:5]
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
    engine.dispose()

    FIGURES.update(faults=faults, accepted=len(result.accepted), attempts=result.attempts,
                   retried=dict(result.retried), lost=lost, duplicated=duplicated,
                   stored=stored, recipients=len(wanted), load_seconds=round(result.seconds),
                   recovery_seconds=round(recovery, 1))
    assert lost == 0
    assert duplicated == 0
    assert unexpected == 0
    # Retries with the same key never created a second item.
    assert stored == len(result.accepted)
    # Each feed is a gapless sequence: one position per message.
    assert cursors_ok
    # The kill really hit a batch in progress.
    assert handled >= 1 and len(faults) == 4
