"""What the console's screens need beyond the exchanges: drafts, notice preferences,
the oversight figures, and the operators' view (the same gauges as /metrics, dead letters,
clients) — each through the service that owns it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from ..db import utcnow
from ..health import DatabaseCollector, _broker_reachable, writer_reachable
from ..hub import Hub
from ..organisations import service as organisations
from ..organisations.models import Client
from ..oversight import service as oversight_service
from ..problems import Problem
from ..webhooks import service as webhooks
from ..webhooks.models import WebhookDelivery
from .gateway import Person
from .models import Agent, Draft


def save_draft(hub: Hub, person: Person, exchange: str, action: str, item_id: str | None,
               body: dict[str, Any]) -> str:
    draft_id = str(uuid.uuid4())
    with hub.db.transaction() as session:
        session.add(Draft(id=draft_id, org_id=person.org_id, exchange=exchange,
                          action=action, item_id=item_id, body=json.dumps(body),
                          author_sub=person.sub, author_name=person.name,
                          created_at=utcnow()))
    return draft_id


def drafts(hub: Hub, person: Person) -> list[Draft]:
    with hub.db.sessions() as session:
        return list(session.scalars(select(Draft).where(
            Draft.org_id == person.org_id, Draft.sent_at.is_(None))
            .order_by(Draft.created_at.desc()).limit(100)))


def draft(hub: Hub, person: Person, draft_id: str | None) -> Draft | None:
    if not draft_id:
        return None
    with hub.db.sessions() as session:
        found = session.get(Draft, draft_id)
        return found if found is not None and found.org_id == person.org_id else None


def mark_sent(hub: Hub, person: Person, draft_id: str) -> None:
    with hub.db.transaction() as session:
        found = session.get(Draft, draft_id)
        if found is not None and found.org_id == person.org_id:
            found.sent_at = utcnow()


def signed_out(hub: Hub, person: Person) -> None:
    with hub.db.transaction() as session:
        session.get(Agent, person.sub).signed_out_at = utcnow()


def set_notify(hub: Hub, person: Person, notify: bool) -> None:
    with hub.db.transaction() as session:
        session.get(Agent, person.sub).notify = notify


def notify_of(hub: Hub, person: Person) -> bool:
    with hub.db.sessions() as session:
        return bool(session.get(Agent, person.sub).notify)


def oversight(hub: Hub) -> dict[str, Any]:
    with hub.db.sessions() as session:
        return {"platforms": oversight_service.platforms(session, utcnow()),
                "flaggers": oversight_service.trusted_flaggers(session)}


def status(hub: Hub) -> dict[str, Any]:
    """The operators' view: dependencies, the gauges /metrics shows, dead letters,
    organisations and their clients."""
    gauges: dict[str, list[tuple[dict, float]]] = {}
    for family in DatabaseCollector(hub.db, hub.settings).collect():
        gauges[family.name] = [(s.labels, s.value) for s in family.samples]
    checks = {"base de données": any(v == 1.0 for labels, v in gauges.get(
        "vigie_dependency_up", []) if labels.get("dependency") == "database"),
        "courtier Kafka": _broker_reachable(hub.settings.kafka_bootstrap)}
    if hub.settings.writer_socket:
        checks["processus d'écriture"] = writer_reachable(hub.settings.writer_socket)
    with hub.db.sessions() as session:
        dead = [webhooks.to_resource(d) for d in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.status == "dead")
            .order_by(WebhookDelivery.id.desc()).limit(50))]
        pending = session.query(WebhookDelivery).filter(
            WebhookDelivery.status == "pending").count()
        orgs = [(o.id, o.type, o.name) for o in organisations.list_organisations(session)]
        clients = [(c.client_id, c.org_id, c.enabled, c.created_at) for c in session.scalars(
            select(Client).order_by(Client.org_id, Client.client_id))]
    one = {name: (values[0][1] if values else 0.0) for name, values in gauges.items()}
    return {"checks": checks, "backlog": one.get("vigie_outbox_backlog", 0),
            "oldest": one.get("vigie_outbox_oldest_age_seconds", 0),
            "overdue": gauges.get("vigie_items_overdue", []), "pending": pending,
            "dead": dead, "organisations": orgs, "clients": clients}


def replay(hub: Hub, delivery_id: int) -> bool:
    try:
        with hub.db.transaction() as session:
            webhooks.replay(session, delivery_id, utcnow())
    except Problem:
        return False
    return True


def client_action(hub: Hub, verb: str, org_id: str, client_id: str) -> tuple[str, str | None]:
    """create (for an organisation), rotate (a new secret, the old refused at once) or
    disable a client; returns the client id and, for a new secret, the secret."""
    with hub.db.transaction() as session:
        try:
            if verb == "create":
                client, secret = organisations.add_client(session, org_id)
                return client.client_id, secret
            if verb == "rotate":
                return client_id, organisations.rotate_secret(session, client_id)
            if verb == "disable":
                organisations.disable_client(session, client_id)
                return client_id, None
        except organisations.OrganisationError as refused:
            raise ValueError(str(refused)) from None
    raise ValueError(f"unknown action {verb!r}")
