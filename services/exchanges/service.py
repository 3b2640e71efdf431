"""Submitting, reading and advancing items of any exchange.

Every state change and the message that announces it are written in one database
transaction (item + outbox + idempotency record): all or nothing.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.orm import Session

from schemas.envelope import Envelope

from ..config import Settings
from ..db import utcnow
from ..evidence.service import Signer
from ..idempotency.models import IdempotencyRecord
from ..messaging.models import OutboxMessage
from ..messaging.outbox import enqueue
from ..messaging.topics import exchange_topic
from ..problems import Problem, invalid, not_found
from .definition import Exchange
from .digests import digest
from .models import Item, ItemKey, ItemStep


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the verified access token."""

    client_id: str
    org_id: str
    org_type: str
    scopes: frozenset[str]

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        return cls(claims["client_id"], claims["org"], claims["org_type"],
                   frozenset(claims["scope"].split()))


def is_overdue(exchange: Exchange, item: Item, now: datetime) -> bool:
    return (item.due_at is not None and item.status not in exchange.closed_states
            and now > item.due_at)


def to_resource(exchange: Exchange, item: Item, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": item.id,
        "exchange": exchange.name,
        "status": item.status,
        "lane": item.lane,
        "sender": item.sender_org,
        "recipient": item.recipient_org,
        "submitted_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "overdue": is_overdue(exchange, item, now),
        "content": json.loads(item.content),
        "steps": [{"action": s.action, "by": s.actor_org, "at": s.created_at.isoformat(),
                   "content": json.loads(s.body)} for s in item.steps],
    }


def submit(session: Session, settings: Settings, exchange: Exchange, caller: Caller,
           body: dict[str, Any], now: datetime, signer: Signer) -> Item:
    if caller.org_type not in exchange.sender_types:
        raise Problem(403, "Forbidden", f"a {caller.org_type} cannot submit {exchange.name}")
    errors = exchange.rules(body, now)
    recipient, route_errors = exchange.route(session, exchange, body)
    errors = sorted(errors + route_errors, key=lambda e: e["field"])
    if errors:
        raise invalid(errors)
    content = {**exchange.defaults, **{k: v for k, v in body.items() if k != "recipient"}}
    content = exchange.enrich(caller, content, settings)
    keys = exchange.lookup_keys(content)
    if keys:
        content["duplicate_of"] = _open_duplicate(session, exchange, recipient, keys)
    item = Item(id=str(uuid.uuid4()), exchange=exchange.name, sender_org=caller.org_id,
                recipient_org=recipient, submitted_by=caller.client_id,
                status=exchange.initial_state, content=json.dumps(content, ensure_ascii=False),
                created_at=now, updated_at=now, lane=exchange.lane_of(content),
                due_at=exchange.due_at(content, now, settings),
                steps=[])  # a new item has none: saying so spares a query for its resource
    session.add(item)
    session.add_all(ItemKey(item_id=item.id, exchange=exchange.name, recipient_org=recipient,
                            key=key) for key in keys)
    session.flush()
    signer.sign(session, item, "submitted", now)
    envelope = Envelope(
        type=exchange.event_type("submitted"), source=f"/v1/{exchange.name}",
        subject=item.id, senderorg=caller.org_id, recipientorg=item.recipient_org,
        correlationid=item.id, time=now, data=to_resource(exchange, item, now))
    enqueue(session, exchange_topic(settings, exchange.topic_name, item.lane), envelope)
    return item


def _open_duplicate(session: Session, exchange: Exchange, recipient: str,
                    keys: list[str]) -> str | None:
    """The earliest open item to the same recipient sharing a key, if any."""
    return session.scalar(
        select(Item.id).join(ItemKey, ItemKey.item_id == Item.id)
        .where(ItemKey.exchange == exchange.name, ItemKey.recipient_org == recipient,
               ItemKey.key.in_(keys), Item.status.not_in(exchange.closed_states))
        .order_by(Item.created_at, Item.id).limit(1))


def visible_to(exchange: Exchange, caller: Caller):
    """Senders see what they sent; recipients what has reached their feed; overseers
    (e.g. the regulator) everything of the exchange."""
    if caller.org_type in exchange.overseer_types:
        return true()
    return or_(Item.sender_org == caller.org_id,
               and_(Item.recipient_org == caller.org_id, Item.delivered_at.is_not(None)))


def get_visible(session: Session, exchange: Exchange, caller: Caller, item_id: str,
                for_update: bool = False) -> Item:
    """The item if the caller's organisation sent or received it; 404 otherwise."""
    query = select(Item).where(Item.id == item_id, Item.exchange == exchange.name,
                               visible_to(exchange, caller))
    if for_update:
        query = query.with_for_update()
    item = session.scalar(query)
    if item is None:
        raise not_found(exchange.name.replace("-", " ").rstrip("s"))
    return item


def advance(session: Session, settings: Settings, exchange: Exchange, caller: Caller,
            item_id: str, action: str, body: dict[str, Any], now: datetime,
            signer: Signer) -> Item:
    transition = exchange.transition(action)
    item = get_visible(session, exchange, caller, item_id, for_update=True)
    actor_org = item.sender_org if transition.actor == "sender" else item.recipient_org
    if caller.org_id != actor_org:
        raise Problem(403, "Forbidden", f"only the {transition.actor} may record this step")
    if item.status not in transition.from_states:
        raise Problem(409, "Conflict",
                      f"cannot {action} an item that is {item.status}", kind="invalid-state")
    errors = sorted(transition.rules(body, now), key=lambda e: e["field"])
    if errors:
        raise invalid(errors)
    result = transition.result_for(body)
    counterpart = item.recipient_org if transition.actor == "sender" else item.sender_org
    message_id = str(uuid.uuid4())
    item.status = result.state
    item.updated_at = now
    item.version += 1
    step = ItemStep(item_id=item.id, action=action, actor_org=caller.org_id,
                    actor_client=caller.client_id, body=json.dumps(body, ensure_ascii=False),
                    message_id=message_id, created_at=now)
    session.add(step)
    session.flush()
    session.refresh(item, ["steps"])
    signer.sign(session, item, result.event, now, step_digest=digest(body))
    data = {"id": item.id, "status": item.status, "action": action, "by": caller.org_id,
            "at": now.isoformat(), "content": body}
    if result.erases:
        erase(session, exchange, item)
        data["content"] = json.loads(step.body)
        data["erase"] = True  # the recipient must delete every copy it holds
    envelope = Envelope(
        id=message_id, type=exchange.event_type(result.event),
        source=f"/v1/{exchange.name}/{item.id}/{action}", subject=item.id,
        senderorg=caller.org_id, recipientorg=counterpart, correlationid=item.id, time=now,
        data=data)
    enqueue(session, exchange_topic(settings, exchange.topic_name, item.lane), envelope)
    return item


def erase(session: Session, exchange: Exchange, item: Item) -> None:
    """Remove the personal data of an item from the hub's copies — the item, its steps,
    its messages still in the outbox and the stored idempotent answers — keeping only
    what proves the steps, and a digest of what was removed."""
    content = json.loads(item.content)
    item.content = json.dumps({**exchange.redact(content), "redacted": True,
                               "digest": digest(content)}, ensure_ascii=False)
    for step in item.steps:
        step.body = json.dumps(exchange.redact_step(step.action, json.loads(step.body)),
                               ensure_ascii=False)
    redact_outbox(session, item.id)
    session.flush()
    resource = json.dumps(to_resource(exchange, item))
    session.execute(update(IdempotencyRecord).where(IdempotencyRecord.item_id == item.id)
                    .values(response=resource))


def redact_outbox(session: Session, item_id: str) -> None:
    """Messages about the item still to be relayed (to exchange or feed topics) keep only
    proof; the erasing message itself is enqueued after this."""
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.key == item_id)):
        wire = json.loads(row.payload)
        envelope = wire.get("event", wire)  # feed topics carry {cursor, ..., event}
        if envelope["data"].get("redacted") or envelope["data"].get("erase"):
            continue
        envelope["data"] = redacted_data(item_id, envelope["data"])
        row.payload = json.dumps(wire, ensure_ascii=False)


def redacted_data(item_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """What stays of a message's data once its item is erased."""
    return {"id": item_id, "redacted": True, "digest": digest(data)}


def encode_cursor(item: Item) -> str:
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, item_id = raw.split("|", 1)
        return datetime.fromisoformat(created), item_id
    except (ValueError, UnicodeDecodeError):
        raise invalid([{"field": "query:after", "message": "not a cursor this API gave"}]) from None


def list_visible(session: Session, exchange: Exchange, caller: Caller, role: str | None,
                 status: str | None, overdue: bool | None, after: str | None,
                 limit: int, now: datetime) -> tuple[list[Item], str | None]:
    """Newest first; only what the caller's organisation sent or received."""
    mine = {"sent": Item.sender_org == caller.org_id,
            "received": and_(Item.recipient_org == caller.org_id,
                             Item.delivered_at.is_not(None))}
    query = select(Item).where(Item.exchange == exchange.name,
                               mine[role] if role else visible_to(exchange, caller))
    if status:
        query = query.where(Item.status == status)
    if overdue is not None:
        late = and_(Item.due_at.is_not(None), Item.due_at < now,
                    Item.status.not_in(exchange.closed_states))
        query = query.where(late if overdue else ~late)
    if after:
        created, item_id = decode_cursor(after)
        query = query.where(or_(Item.created_at < created,
                                and_(Item.created_at == created, Item.id < item_id)))
    items = list(session.scalars(
        query.order_by(Item.created_at.desc(), Item.id.desc()).limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    return items, (encode_cursor(items[-1]) if more else None)
