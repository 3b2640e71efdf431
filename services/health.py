"""Liveness, readiness (database and broker) and the Prometheus endpoint."""

from __future__ import annotations

import os
import socket

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select, text
from starlette.responses import Response

from .config import Settings
from .db import Database, utcnow
from .documents.models import Document
from .exchanges.models import Item
from .exchanges.registry import EXCHANGES
from .hub import current_hub
from .messaging.outbox import backlog, items_waiting_since, oldest_waiting, waiting
from .webhooks.models import WebhookDelivery


def healthz() -> dict:
    return {"status": "ok"}


def _broker_reachable(bootstrap: str) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        except (OSError, ValueError):
            continue
    return False


def writer_reachable(path: str) -> bool:
    """The writer process takes connections (services/writes/remote.py)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(path)
            return True
        except OSError:
            return False


def readyz():
    hub = current_hub()
    checks = {}
    try:
        with hub.db.sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any database failure
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = "ok" if _broker_reachable(hub.settings.kafka_bootstrap) else "unreachable"
    if hub.settings.writer_socket:
        checks["writer"] = "ok" if writer_reachable(hub.settings.writer_socket) else \
            "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


class DatabaseCollector:
    """Gauges read from the database at scrape time: outbox backlog, overdue items."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def collect(self):
        up_g = GaugeMetricFamily("vigie_dependency_up",
                                 "Whether this process reaches a dependency (1) or not (0)",
                                 labels=["dependency"])
        up_g.add_metric(["broker"],
                        1.0 if _broker_reachable(self.settings.kafka_bootstrap) else 0.0)
        backlog_g = GaugeMetricFamily("vigie_outbox_backlog", "Messages waiting to be relayed")
        age_g = GaugeMetricFamily("vigie_outbox_oldest_age_seconds",
                                  "Age of the oldest message waiting to be relayed (0: none)")
        dead_g = GaugeMetricFamily("vigie_webhook_dead_letters",
                                   "Webhook deliveries parked after their last attempt")
        overdue_g = GaugeMetricFamily("vigie_items_overdue", "Open items past their deadline",
                                      labels=["exchange"])
        late_g = GaugeMetricFamily("vigie_items_delivery_late",
                                   "Items in the recipient's REST feed (at commit) but not yet "
                                   "on its Kafka topic after the delivery target",
                                   labels=["exchange"])
        stored_g = GaugeMetricFamily("vigie_documents_stored_bytes",
                                     "Bytes of documents kept in storage (as uploaded)")
        count_g = GaugeMetricFamily("vigie_documents_stored",
                                    "Documents kept in storage, by whether an item carries "
                                    "them", labels=["attached"])
        try:
            with self.db.sessions() as session:
                kept = (select(func.count(), func.coalesce(func.sum(Document.size), 0))
                        .where(Document.destroyed_at.is_(None)))
                attached = session.execute(kept.where(Document.item_id.is_not(None))).one()
                loose = session.execute(kept.where(Document.item_id.is_(None))).one()
                stored_g.add_metric([], float(attached[1] + loose[1]))
                count_g.add_metric(["true"], attached[0])
                count_g.add_metric(["false"], loose[0])
                ahead = waiting(session)
                backlog_g.add_metric([], backlog(session, ahead))
                oldest = oldest_waiting(session, ahead)
                age_g.add_metric([], 0.0 if oldest is None else max(
                    0.0, (utcnow() - oldest).total_seconds()))
                dead_g.add_metric([], session.scalar(
                    select(func.count()).select_from(WebhookDelivery)
                    .where(WebhookDelivery.status == "dead")) or 0)
                now = utcnow()
                for name, exchange in EXCHANGES.items():
                    count = session.scalar(select(func.count()).select_from(Item).where(
                        Item.exchange == name, Item.due_at < now,
                        Item.status.not_in(exchange.closed_states)))
                    overdue_g.add_metric([name], count or 0)
                    if exchange.delivery_target is not None:
                        target = self.settings.deadline(f"{name}.delivery",
                                                        exchange.delivery_target)
                        late = items_waiting_since(
                            session, ahead, select(Item.id).where(Item.exchange == name),
                            now - target)
                        late_g.add_metric([name], late)
        except Exception:  # noqa: BLE001 - a scrape must not fail with the database
            up_g.add_metric(["database"], 0.0)
            yield up_g
            return
        up_g.add_metric(["database"], 1.0)
        yield up_g
        yield backlog_g
        yield age_g
        yield overdue_g
        yield late_g
        yield dead_g
        yield stored_g
        yield count_g


def metrics() -> Response:
    """Several uvicorn workers share one directory of counters (PROMETHEUS_MULTIPROC_DIR,
    set by `vigie serve --workers N`), so any worker's scrape reports them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(current_hub().scrape_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
