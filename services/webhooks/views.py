"""Webhook registration and delivery attempts (recipients); dead letters (operators)."""

from __future__ import annotations

import httpx
from connexion import context
from sqlalchemy import select

from ..db import utcnow
from ..http import json_body
from ..hub import current_hub
from ..problems import not_found
from . import service
from .models import Webhook, WebhookDelivery


def _org() -> str:
    return context.context["token_info"]["org"]


def _hook(hook: Webhook) -> dict:
    return {"id": hook.id, "url": hook.url, "enabled": hook.enabled,
            "created_at": hook.created_at.isoformat()}


def register(body: dict):
    """The secret is in this answer only; the hub keeps it to sign, never shows it again."""
    hub = current_hub()
    with hub.db.transaction() as session:
        hook, secret = service.register(session, hub.settings, _org(), body["url"])
        resource = {**_hook(hook), "secret": secret}
    return json_body(resource, 201, {"Location": f"/v1/webhooks/{hook.id}"})


def list_webhooks():
    with current_hub().db.sessions() as session:
        hooks = session.scalars(select(Webhook).where(Webhook.org_id == _org())
                                .order_by(Webhook.created_at))
        return json_body({"items": [_hook(h) for h in hooks]})


def delete(id: str):  # noqa: A002
    with current_hub().db.transaction() as session:
        hook = session.get(Webhook, id)
        if hook is None or hook.org_id != _org():
            raise not_found("webhook")
        hook.enabled = False
    return json_body({"id": id, "enabled": False})


def _own_hook(session, id: str) -> Webhook:  # noqa: A002
    hook = session.get(Webhook, id)
    if hook is None or hook.org_id != _org() or not hook.enabled:
        raise not_found("webhook")
    return hook


def rotate_secret(id: str):  # noqa: A002
    """The new secret is in this answer only; the previous one signs too until
    `previous_valid_until`."""
    hub = current_hub()
    with hub.db.transaction() as session:
        secret, until = service.rotate(session, hub.settings, _own_hook(session, id),
                                       utcnow())
    return json_body({"id": id, "secret": secret, "previous_valid_until": until.isoformat()})


def ping(id: str):  # noqa: A002
    """A signed test message, sent now; the receiver's answer."""
    hub = current_hub()
    with hub.db.sessions() as session:
        hook = _own_hook(session, id)
        session.expunge(hook)
    with httpx.Client(timeout=hub.settings.webhook_timeout_seconds,
                      follow_redirects=False) as http:
        return json_body(service.ping(hub.box, http, hub.settings, hook, utcnow()))


def replay_own(id: int):  # noqa: A002
    """The recipient delivers one of its own dead letters again, once."""
    with current_hub().db.transaction() as session:
        delivery = service.replay(session, id, utcnow(), org_id=_org())
        resource = service.to_resource(delivery)
    return json_body(resource)


def _deliveries(where, status: str | None, limit: int) -> list[dict]:
    with current_hub().db.sessions() as session:
        query = select(WebhookDelivery).where(where)
        if status:
            query = query.where(WebhookDelivery.status == status)
        rows = session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit))
        return [service.to_resource(d) for d in rows]


def deliveries(status: str | None = None, limit: int = 100):
    return json_body({"items": _deliveries(WebhookDelivery.org_id == _org(), status, limit)})


def dead_letters(limit: int = 100):
    return json_body({"items": _deliveries(WebhookDelivery.status == "dead", None, limit)})


def replay(id: int):  # noqa: A002
    with current_hub().db.transaction() as session:
        delivery = service.replay(session, id, utcnow())
        resource = service.to_resource(delivery)
    return json_body(resource)
