"""An item's lifecycle, for every exchange: submit, advance, deliver, retrieve, erase.

Each function checks what it can before any transaction (refusals write nothing) and
returns the `Write` the write path commits: the item is in its recipient's feed — and on
its way to the recipient's Kafka topic — the moment it is committed. Reads use SQLAlchemy
Core: no ORM object on the hot path.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, true, update

from schemas.envelope import Envelope
from schemas.jsontext import dumps

from .. import tracing
from ..config import Settings
from ..db import AsyncReads, run, utcnow
from ..documents import service as documents
from ..evidence.service import count_step, make_claims, without_step
from ..feed.models import FeedItem
from ..idempotency.models import IdempotencyRecord
from ..legal.references import REFERENCES
from ..messaging import erasures as topic_erasures
from ..messaging.topics import feed_topic_name, topic_message_id
from ..oauth.identity import Caller
from ..organisations.directory import Organisations
from ..problems import Problem, invalid, not_found
from ..sealed import SecretBox, Unsealable
from ..writes import wire
from ..writes.group import FeedEntry, Guard, Write
from .definition import Exchange, FieldErrors, History, Transition
from .digests import digest
from .models import Item, ItemFact, ItemIdentities, ItemKey, ItemStep

ITEMS = Item.__table__
STEPS = ItemStep.__table__
KEYS = ItemKey.__table__
IDENTITIES = ItemIdentities.__table__
FACTS = ItemFact.__table__


def is_overdue(exchange: Exchange, item: Any, now: datetime) -> bool:
    return (item.due_at is not None and item.status not in exchange.closed_states
            and now > item.due_at)


MAX_REJECTIONS = 20  # refused steps recorded as evidence per item

# A link to another organisation's item that only the recipient and overseers may see.
LINK, LINK_SENDER = "duplicate_of", "duplicate_of_sender"


def _content_for(item: Any, viewer: str | None) -> dict[str, Any]:
    """The content as `viewer` may see it: a sender learns of a duplicate only when the
    earlier item is its own (else the link would tell it another organisation's item id
    and that it has an open notice on the same URL)."""
    content = json.loads(item.content)
    if viewer is not None and viewer == item.sender_org and content.get(LINK) and \
            content.get(LINK_SENDER) != viewer:
        content[LINK] = None
        content.pop(LINK_SENDER, None)
    return content


def _step_as_seen(exchange: Exchange, step: Any, viewer: str | None) -> dict[str, Any]:
    """A step's content as `viewer` may see it: the other party is told what the step's
    `told` says of it."""
    body = json.loads(step.body)
    if viewer is not None and viewer != step.actor_org:
        told = next((t.told for t in exchange.transitions if t.action == step.action), None)
        if told is not None and not body.get("redacted"):
            return told(body)
    return body


def to_resource(exchange: Exchange, item: Any, steps: Sequence[Any],
                now: datetime | None = None, viewer: str | None = None) -> dict[str, Any]:
    """The item as the API shows it to `viewer`'s organisation (`item` and `steps`: rows
    or anything with their attributes)."""
    now = now or utcnow()
    return {
        "id": item.id,
        "exchange": exchange.name,
        "status": item.status,
        "lane": item.lane,
        "legal_basis": exchange.legal_basis(item.created_at),
        "sender": item.sender_org,
        "recipient": item.recipient_org,
        "submitted_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "overdue": is_overdue(exchange, item, now),
        "content": _content_for(item, viewer),
        "steps": [{"action": s.action, "by": s.actor_org, "at": s.created_at.isoformat(),
                   "content": _step_as_seen(exchange, s, viewer)} for s in steps],
        **({"notice": exchange.notice} if exchange.notice else {}),
    }


def message_digest(content: dict[str, Any]) -> str:
    """The digest of the message as submitted (kept by an erasure)."""
    return content["digest"] if content.get("redacted") else digest(content)


def evidence(settings: Settings, item: Any, step: str, at: datetime,
             content: dict[str, Any] | None = None, step_digest: str | None = None,
             detail: str | None = None, content_digest: str | None = None,
             agent: str | None = None) -> dict[str, Any]:
    """The claims of one evidence record about the item (`content_digest`: its
    message_digest, when the caller has it already; `agent`: the person who acted)."""
    if content_digest is None:
        content = json.loads(item.content) if content is None else content
        content_digest = message_digest(content)
    return make_claims(settings.issuer, item.id, item.exchange, item.sender_org,
                       item.recipient_org, step, at, content_digest,
                       step_digest, detail, REFERENCES.at(item.exchange, at).reference,
                       agent)


def _feed_entry(exchange: Exchange, envelope: Envelope, lane: str) -> FeedEntry:
    return FeedEntry(org_id=envelope.recipientorg, message_id=envelope.id,
                     item_id=envelope.subject, event_type=envelope.type,
                     envelope=envelope.to_json().decode(),
                     exchange=exchange.name, lane=lane, sent_at=envelope.time)


@dataclass(frozen=True)
class Draft:
    """A submission checked and routed, before its duplicate look-up (if it has keys)."""

    exchange: Exchange
    caller: Caller
    recipient: str
    content: dict[str, Any]
    keys: list[str]
    now: datetime
    # The identities kept apart from a pseudonymised content (sealed by `submission`).
    identities: dict[str, Any] | None = None


def draft(settings: Settings, directory: Organisations, exchange: Exchange, caller: Caller,
          body: dict[str, Any], now: datetime) -> Draft:
    """Everything a submission checks, without the database: refusals write nothing."""
    if caller.org_type not in exchange.sender_types:
        raise Problem(403, "Forbidden", f"a {caller.org_type} cannot submit {exchange.name}")
    sender = directory.get(caller.org_id)
    if sender is None:
        raise Problem(403, "Forbidden", f"organisation {caller.org_id} is not in the registry")
    errors = exchange.rules(body, now)
    recipient, route_errors = exchange.route(directory, exchange, body, now)
    declared, authority_errors = exchange.authority(sender, body, now)
    errors = sorted(errors + route_errors + authority_errors, key=lambda e: e["field"])
    if errors:
        raise invalid(errors)
    content = {**exchange.defaults,
               **{k: v for k, v in declared.items() if k != "recipient"}}
    content = exchange.enrich(caller, content, settings, now)
    identities = None
    if exchange.pseudonymise is not None:
        content, identities = exchange.pseudonymise(content)
    return Draft(exchange, caller, recipient, content, exchange.lookup_keys(content), now,
                 identities)


def identities_context(item_id: str) -> str:
    """What a sealed set of identities is bound to: its item, nothing else."""
    return f"item-identities:{item_id}"


def submission(settings: Settings, draft: Draft, duplicate: Any = None,
               box: SecretBox | None = None) -> tuple[Write, dict[str, Any]]:
    """The new item, delivered to its recipient's feed by the same commit; `duplicate`:
    what `open_duplicate` found for a draft with keys; `box`: the data keys, which seal
    the identities of a pseudonymised item."""
    exchange, caller, recipient, now = draft.exchange, draft.caller, draft.recipient, draft.now
    content, keys = dict(draft.content), draft.keys
    if keys:
        content[LINK] = duplicate.id if duplicate else None
        if duplicate:
            content[LINK_SENDER] = duplicate.sender_org
    row = {"id": str(uuid.uuid4()), "exchange": exchange.name, "sender_org": caller.org_id,
           "recipient_org": recipient, "submitted_by": caller.client_id,
           "status": exchange.delivered_state or exchange.initial_state,
           "content": dumps(content), "created_at": now,
           "updated_at": now, "delivered_at": now, "due_at": exchange.due_at(content, now,
                                                                              settings),
           "version": 1, "lane": exchange.lane_of(content)}
    item = SimpleNamespace(**row)
    submitted = message_digest(content)
    # The recipient's message carries the whole content; the sender's answer its view.
    data = to_resource(exchange, item, [], now)
    resource = (to_resource(exchange, item, [], now, viewer=caller.org_id)
                if content.get(LINK) else data)
    envelope = Envelope(
        type=exchange.event_type("submitted"), source=f"/v1/{exchange.name}",
        subject=item.id, senderorg=caller.org_id, recipientorg=recipient,
        correlationid=item.id, time=now, data=data, traceparent=tracing.traceparent())
    rows = [(ITEMS, row)] + [(KEYS, {"item_id": item.id, "exchange": exchange.name,
                                     "recipient_org": recipient, "key": key})
                             for key in keys]
    if draft.identities:
        if box is None:
            raise ValueError(f"{exchange.name} keeps identities apart: no data keys given")
        rows.append((IDENTITIES, {"item_id": item.id, "created_at": now, "sealed": box.seal(
            dumps(draft.identities), identities_context(item.id))}))
    rows += _facts(item.id, exchange.facts(content))
    write = Write(
        rows=rows,
        feed=[_feed_entry(exchange, envelope, item.lane)],
        evidence=[evidence(settings, item, step, now, content_digest=submitted,
                           agent=caller.agent if step == "submitted" else None)
                  for step in ("submitted", "delivered")],
        conditions=_attaching(content, caller.org_id, item.id, now))
    return write, resource


def _facts(item_id: str, facts: list[tuple[str, str]]) -> list[tuple[Any, dict[str, Any]]]:
    return [(FACTS, {"item_id": item_id, "name": name, "value": str(value)[:200]})
            for name, value in facts]


def _attaching(body: dict[str, Any], org_id: str, item_id: str,
               now: datetime) -> list[documents.Condition]:
    """The documents a submission or step carries (resolved already: each with its
    digest, so the evidence binds them) are attached to the item by the same commit."""
    carried = body.get("documents")
    return [documents.attachment(carried, org_id, item_id, now)] if carried else []


def with_documents(conn: Connection, org_id: str, body: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    """The body with the documents it names described as they will travel (digest, size,
    type, title); refused (422) if one is not the caller's to attach."""
    if not body.get("documents"):
        return body
    return {**body, "documents": documents.resolve(conn, org_id, body["documents"], now)}


def open_duplicate(session: Connection, draft: Draft) -> Any:
    """The earliest open item to the same recipient sharing one of the draft's keys, if
    any (id, sender)."""
    exchange, keys = draft.exchange, draft.keys
    closed = sorted(exchange.closed_states)
    found = run(session, "SELECT i.id, i.sender_org FROM item_keys k JOIN items i "
                "ON i.id = k.item_id WHERE k.exchange = %s AND k.recipient_org = %s "
                f"AND k.key IN ({', '.join(['%s'] * len(keys))}) "
                + (f"AND i.status NOT IN ({', '.join(['%s'] * len(closed))}) " if closed
                   else "")
                + "ORDER BY i.created_at, i.id LIMIT 1",
                [exchange.name, draft.recipient, *keys, *closed])
    return SimpleNamespace(id=found[0][0], sender_org=found[0][1]) if found else None


class DuplicateFinder:
    """`open_duplicate` on the event loop (PostgreSQL): the drafts that ask while a query
    runs share the next one, so that a burst of notices costs a few round trips."""

    # Each key looked up by its own index scan (LATERAL): as one join, a plan made while
    # item_keys was small hashed the whole table at every look-up once it had grown
    # (18,000 rows read, 8 ms, measured under `make bench`).
    SQL = ("SELECT q.n, d.id, d.sender_org "
           "FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) "
           "AS q(n, exchange, recipient, key) "
           "CROSS JOIN LATERAL (SELECT i.id, i.sender_org FROM item_keys k "
           "JOIN items i ON i.id = k.item_id "
           "WHERE k.exchange = q.exchange AND k.recipient_org = q.recipient "
           "AND k.key = q.key AND NOT (i.exchange || ' ' || i.status = ANY(%s::text[])) "
           "ORDER BY i.created_at, i.id LIMIT 1) AS d")

    def __init__(self, reads: AsyncReads):
        self.reads = reads
        self._waiting: list[tuple[Draft, asyncio.Future]] = []
        self._running = False

    async def find(self, draft: Draft) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((draft, future))
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    found = await self.reads.rows(self.SQL, self._params(batch))
                except Exception as exc:  # noqa: BLE001 - each asker gets the error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                by_draft = {n: SimpleNamespace(id=i, sender_org=s) for n, i, s in found}
                for n, (_, future) in enumerate(batch):
                    if not future.done():
                        future.set_result(by_draft.get(n))
        finally:
            self._running = False

    @staticmethod
    def _params(batch: list[tuple[Draft, asyncio.Future]]) -> list[Any]:
        numbers, exchanges, recipients, keys = [], [], [], []
        closed = set()
        for n, (draft, _) in enumerate(batch):
            closed |= {f"{draft.exchange.name} {state}" for state in draft.exchange.closed_states}
            for key in draft.keys:
                numbers.append(n)
                exchanges.append(draft.exchange.name)
                recipients.append(draft.recipient)
                keys.append(key)
        return [numbers, exchanges, recipients, keys, sorted(closed)]


def party_to(caller: Caller):
    """The items the caller's organisation sent, or received once in its feed."""
    return or_(ITEMS.c.sender_org == caller.org_id,
               and_(ITEMS.c.recipient_org == caller.org_id, ITEMS.c.delivered_at.is_not(None)))


def visible_to(exchange: Exchange, caller: Caller):
    """Senders see what they sent; recipients what has reached their feed; overseers
    (e.g. the regulator) everything of the exchange."""
    if caller.org_type in exchange.overseer_types:
        return true()
    return party_to(caller)


def get_visible(session: Connection, exchange: Exchange, caller: Caller, item_id: str) -> Any:
    """The item row if the caller's organisation sent or received it; 404 otherwise."""
    row = session.execute(select(ITEMS).where(
        ITEMS.c.id == item_id, ITEMS.c.exchange == exchange.name,
        visible_to(exchange, caller))).first()
    if row is None:
        raise not_found(exchange.name.replace("-", " ").rstrip("s"))
    return row


def steps_of(session: Connection, item_ids: list[str]) -> dict[str, list[Any]]:
    """The steps of the items, in order, in one query."""
    out: dict[str, list[Any]] = {i: [] for i in item_ids}
    if item_ids:
        for s in session.execute(select(STEPS).where(STEPS.c.item_id.in_(item_ids))
                                 .order_by(STEPS.c.id)):
            out[s.item_id].append(s)
    return out


@dataclass(frozen=True)
class Disclosure:
    """What an overseer asked to see of an item: its content, for a stated purpose
    (audited), and the sender's identity only if it says it needs it."""

    purpose: str
    identity: bool = False


WITHHELD = ("content withheld from an overseer: ask for the item with its purpose "
            "(Vigie-Purpose header); the request is audited")


def as_seen_by(exchange: Exchange, caller: Caller, item: Any, resource: dict[str, Any],
               disclosure: Disclosure | None) -> dict[str, Any]:
    """An overseer that is not a party sees the item's content only on an explicit request
    with a purpose, and the sender's identity only when it asks for it too."""
    if caller.org_type not in exchange.overseer_types or \
            caller.org_id in (item.sender_org, item.recipient_org):
        return resource
    content = resource["content"]
    if disclosure is None:
        return {**resource, "content": {**exchange.overseen(content), "withheld": WITHHELD},
                "steps": [{**step, "content": {}} for step in resource["steps"]]}
    if not disclosure.identity:
        return {**resource, "content": {k: v for k, v in content.items()
                                        if k not in exchange.identity_fields}}
    return resource


def read(session: Connection, exchange: Exchange, caller: Caller, item_id: str,
         now: datetime, disclosure: Disclosure | None = None,
         box: SecretBox | None = None) -> tuple[Any, dict[str, Any]]:
    item = get_visible(session, exchange, caller, item_id)
    resource = to_resource(exchange, item, steps_of(session, [item.id])[item.id], now,
                           viewer=caller.org_id)
    if disclosure is not None and disclosure.identity and exchange.pseudonymise and \
            caller.org_id == item.recipient_org:
        return item, with_identities(session, item, resource, box)
    return item, as_seen_by(exchange, caller, item, resource, disclosure)


def with_identities(session: Connection, item: Any, resource: dict[str, Any],
                    box: SecretBox | None) -> dict[str, Any]:
    """The recipient of a pseudonymised item, stating its purpose, sees the identities
    behind the pseudonyms (the read is audited with the purpose); none once erased."""
    sealed = session.scalar(select(IDENTITIES.c.sealed).where(IDENTITIES.c.item_id == item.id))
    if sealed is None or box is None:
        return {**resource, "identities": None}
    return {**resource,
            "identities": json.loads(box.open(sealed, identities_context(item.id)))}


def reseal_identities(session: Connection, box: SecretBox) -> dict[str, Any]:
    """Seal the identities kept apart under the active data key (`vigie data-keys
    reseal`); those no listed key opens are named, left as they are."""
    changed, unopenable = 0, []
    for item_id, value in session.execute(select(IDENTITIES.c.item_id, IDENTITIES.c.sealed)
                                          .order_by(IDENTITIES.c.item_id)).all():
        if box.is_current(value):
            continue
        context = identities_context(item_id)
        try:
            fresh = box.seal(box.open(value, context), context)
        except Unsealable:
            unopenable.append(item_id)
            continue
        session.execute(update(IDENTITIES).where(IDENTITIES.c.item_id == item_id)
                        .values(sealed=fresh))
        changed += 1
    return {"resealed": changed, "unopenable": unopenable}


def _check_links(session: Connection, caller: Caller, links: tuple[tuple[str, str], ...],
                 body: dict[str, Any]) -> FieldErrors:
    """Each item the body links to exists in its exchange and the caller is a party."""
    errors: FieldErrors = []
    for name, exchange_name in links:
        linked = body.get(name)
        if linked is None:
            continue
        found = session.scalar(select(ITEMS.c.id).where(
            ITEMS.c.id == str(linked), ITEMS.c.exchange == exchange_name, party_to(caller)))
        if found is None:
            errors.append({"field": name, "message": f"not one of your {exchange_name}"})
    return errors


def _onward(session: Connection, settings: Settings, directory: Organisations | None,
            transition: Transition, caller: Caller, body: dict[str, Any], now: datetime,
            box: SecretBox | None) -> tuple[Write, dict[str, Any]]:
    """The submission a step makes in another exchange (the actor is its sender)."""
    onward = transition.onward
    if onward.submit_scope not in caller.scopes:
        raise Problem(403, "Forbidden", f"sending onward needs the {onward.submit_scope} scope")
    if directory is None:
        raise ValueError("a step sending an item onward needs the registry")
    made = draft(settings, directory, onward, caller, body, now)
    if made.content.get("documents"):
        made = replace(made, content=with_documents(session, caller.org_id, made.content, now))
    duplicate = open_duplicate(session, made) if made.keys else None
    return submission(settings, made, duplicate, box)


def advance(session: Connection, settings: Settings, exchange: Exchange, caller: Caller,
            item_id: str, action: str, body: dict[str, Any], now: datetime,
            directory: Organisations | None = None,
            box: SecretBox | None = None) -> tuple[Write, dict[str, Any]]:
    """A lifecycle step; committed only if nobody changed the item since it was read
    (its version is the guard). `directory`: the registry, for a step that sends the item
    onward (a submission in another exchange, in the same commit)."""
    transition = exchange.transition(action)
    item = get_visible(session, exchange, caller, item_id)
    actor_org = item.sender_org if transition.actor == "sender" else item.recipient_org
    if caller.org_id != actor_org:
        raise Problem(403, "Forbidden", f"only the {transition.actor} may record this step")
    if item.status not in transition.from_states:
        raise Problem(409, "Conflict",
                      f"cannot {action} an item that is {item.status}", kind="invalid-state")
    steps = steps_of(session, [item.id])[item.id]
    content = json.loads(item.content)
    history = History(item.status, content,
                      tuple((s.action, json.loads(s.body), s.created_at) for s in steps))
    body = transition.complete(body, history)
    if transition.onward is None:
        body = with_documents(session, caller.org_id, body, now)
    errors = sorted([*transition.rules(body, now), *transition.item_rules(body, history, now),
                     *_check_links(session, caller, transition.links, body)],
                    key=lambda e: e["field"])
    if errors:
        raise invalid(errors)
    onward_write = None
    if transition.onward is not None:
        onward_write, sent = _onward(session, settings, directory, transition, caller, body,
                                     now, box)
        # The step records where the item went; the new item holds what was sent.
        body = {"exchange": transition.onward.name, "item": sent["id"],
                "recipient": sent["recipient"]}
    result = transition.result_for(body, now)
    counterpart = item.recipient_org if transition.actor == "sender" else item.sender_org
    message_id = str(uuid.uuid4())
    state = result.state or item.status
    changes = {"status": state, "updated_at": now, "version": item.version + 1}
    if result.due is not None:
        changes["due_at"] = result.due(body, now, settings)
    step = {"item_id": item.id, "action": action, "actor_org": caller.org_id,
            "actor_client": caller.client_id, "body": dumps(body),
            "message_id": message_id, "created_at": now}
    data = {"id": item.id, "status": state, "action": action, "by": caller.org_id,
            "at": now.isoformat(),
            "content": transition.told(body) if transition.told else body,
            **({"notice": exchange.notice} if exchange.notice else {})}
    erase_copies = None
    if result.erases:
        content_after, step_bodies = erased(exchange, content, steps)
        changes["content"] = dumps(content_after)
        step["body"] = dumps(redacted_step(exchange, action, body))
        data["content"] = json.loads(step["body"])
        data["erase"] = True  # the recipient must delete every copy it holds
        erase_copies = ErasureOfCopies(item.id, step_bodies, settings.topic_prefix)
    updated = SimpleNamespace(**{**item._asdict(), **changes})
    resource = to_resource(exchange, updated, [*steps, SimpleNamespace(**step)], now,
                           viewer=caller.org_id)
    envelope = Envelope(
        id=message_id, type=exchange.event_type(result.event),
        source=f"/v1/{exchange.name}/{item.id}/{action}", subject=item.id,
        senderorg=caller.org_id, recipientorg=counterpart, correlationid=item.id, time=now,
        data=data, traceparent=tracing.traceparent())
    facts = [*transition.facts(body)]
    if state in exchange.closed_states and item.status not in exchange.closed_states and \
            item.due_at is not None:
        facts.append(("deadline", "met" if now <= item.due_at else "missed"))
    write = Write(
        guard=Guard(ITEMS, item.id, item.version, changes),
        rows=[(STEPS, step), *_facts(item.id, facts)],
        feed=[_feed_entry(exchange, envelope, item.lane)],
        evidence=[evidence(settings, item, result.event, now, content,
                           step_digest=digest(body), agent=caller.agent)],
        then=None if erase_copies is None else replace(erase_copies, resource=resource),
        conditions=_attaching(body, caller.org_id, item.id, now))
    if onward_write is not None:
        write.rows += onward_write.rows
        write.feed += onward_write.feed
        write.evidence += onward_write.evidence
        write.conditions += onward_write.conditions
    return write, resource


def rejection(settings: Settings, exchange: Exchange, caller: Caller, session: Connection,
              item_id: str, action: str, problem: Problem, now: datetime) -> Write | None:
    """A refused step on an item the caller may see leaves evidence too — the first
    MAX_REJECTIONS of them: a party cannot grow an item's evidence without end (every
    refusal stays in the audit log)."""
    try:
        item = get_visible(session, exchange, caller, item_id)
    except Problem:
        return None
    if count_step(session, item_id, "rejected") >= MAX_REJECTIONS:
        return None
    detail = f"{action} refused ({problem.status}): {problem.detail}"
    return Write(evidence=[evidence(settings, item, "rejected", now, detail=detail[:500],
                                    agent=caller.agent)])


def retrieval(session: Connection, settings: Settings, item_ids: list[str],
              now: datetime, agent: str | None = None) -> Write | None:
    """Evidence that the recipient read items for the first time (API or feed, `agent`:
    the person who read, when known); the write path keeps one record per item even when
    two reads race."""
    missing = without_step(session, item_ids, "retrieved") if item_ids else []
    if not missing:
        return None  # the usual case for a re-read: nothing to write
    rows = session.execute(select(ITEMS).where(ITEMS.c.id.in_(missing))).all()
    return Write(evidence=[evidence(settings, row, "retrieved", now, agent=agent)
                           for row in rows])


# --- erasure: one place --------------------------------------------------------------

def erased(exchange: Exchange, content: dict[str, Any],
           steps: Sequence[Any]) -> tuple[dict[str, Any], dict[int, str]]:
    """What stays of an item's content and steps once its personal data is erased: proof
    of each step and a digest of what was removed."""
    after = {**exchange.redact(content), **_document_digests(content), "redacted": True,
             "digest": digest(content)}
    bodies = {s.id: json.dumps(redacted_step(exchange, s.action, json.loads(s.body)),
                               ensure_ascii=False) for s in steps}
    return after, bodies


def redacted_step(exchange: Exchange, action: str, body: dict[str, Any]) -> dict[str, Any]:
    return {**exchange.redact_step(action, body), **_document_digests(body)}


def _document_digests(body: dict[str, Any]) -> dict[str, Any]:
    """What stays of the documents a message carried: their ids and digests (their titles
    may name a person; their bytes are destroyed)."""
    carried = body.get("documents")
    if not carried:
        return {}
    return {"documents": [{"id": d["id"], "sha256": d["sha256"]} for d in carried]}


def redacted_data(item_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """What stays of a message's data once its item is erased."""
    return {"id": item_id, "redacted": True, "digest": digest(data)}


@dataclass(frozen=True)
class ErasureOfCopies:
    """The statements that remove an item's personal data from the hub's other copies:
    its earlier steps, every feed copy of its messages (what the relay publishes, and the
    records already on the topics, noted for deletion), the stored idempotent answers
    (which become the erased resource) and its lookup keys. Run by the write path inside
    the erasing transaction; plain data, so that it travels to a writer process."""

    item_id: str
    step_bodies: dict[int, str]
    topic_prefix: str
    resource: dict[str, Any] | None = None

    def __call__(self, conn: Connection) -> None:
        item_id = self.item_id
        for step_id, body in self.step_bodies.items():
            conn.execute(update(STEPS).where(STEPS.c.id == step_id).values(body=body))
        feed_items = FeedItem.__table__
        on_topics = []
        for seq, org_id, text in conn.execute(
                select(feed_items.c.seq, feed_items.c.org_id, feed_items.c.envelope)
                .where(feed_items.c.item_id == item_id)).all():
            wire = json.loads(text)
            if wire["data"].get("redacted") or wire["data"].get("erase"):
                continue
            wire["data"] = redacted_data(item_id, wire["data"])
            conn.execute(update(feed_items).where(feed_items.c.org_id == org_id,
                                                  feed_items.c.seq == seq)
                         .values(envelope=json.dumps(wire, ensure_ascii=False,
                                                     separators=(",", ":"))))
            # The relay publishes the redacted entry if it has not yet published it; it
            # may have (or be doing so now): deleted from the topic once read.
            on_topics.append((feed_topic_name(self.topic_prefix, org_id),
                              topic_message_id(org_id, seq)))
        topic_erasures.record(conn, on_topics, utcnow())
        answers = IdempotencyRecord.__table__
        conn.execute(update(answers).where(answers.c.item_id == item_id)
                     .values(response=json.dumps(self.resource)))
        # The lookup keys (a notice's URLs) serve duplicate detection of open items only.
        conn.execute(delete(KEYS).where(KEYS.c.item_id == item_id))
        # The identities behind a pseudonymised item's content go with it.
        conn.execute(delete(IDENTITIES).where(IDENTITIES.c.item_id == item_id))
        # The item's documents become unreadable now (their keys go); their bytes are
        # deleted from storage once this commits (documents.service.delete_objects).
        conn.execute(documents.destroy_statement("erased", utcnow(), item_id=item_id))


wire.allow(ErasureOfCopies)


def erasure(session: Connection, settings: Settings, exchange: Exchange,
            item_id: str) -> Write | None:
    """Erase an item's personal data (retention): the same statements as a retracting
    step, without a new message. None when it is erased already."""
    item = session.execute(select(ITEMS).where(ITEMS.c.id == item_id)).first()
    if item is None or json.loads(item.content).get("redacted"):
        return None
    steps = steps_of(session, [item_id])[item_id]
    content_after, step_bodies = erased(exchange, json.loads(item.content), steps)
    text = json.dumps(content_after, ensure_ascii=False)
    updated = SimpleNamespace(**{**item._asdict(), "content": text})
    redacted_steps = [SimpleNamespace(**{**s._asdict(), "body": step_bodies[s.id]})
                      for s in steps]
    resource = to_resource(exchange, updated, redacted_steps)
    return Write(
        guard=Guard(ITEMS, item_id, item.version,
                    {"content": text, "version": item.version + 1}),
        then=ErasureOfCopies(item_id, step_bodies, settings.topic_prefix, resource))


# --- listing --------------------------------------------------------------------------

def encode_cursor(item: Any) -> str:
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, item_id = raw.split("|", 1)
        at = datetime.fromisoformat(created)
        uuid.UUID(item_id)  # an id this hub gives, nothing else
        if at.tzinfo is None or at.utcoffset() != timedelta(0):
            raise ValueError("not a cursor this API gave")
        return at, item_id
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise invalid([{"field": "query:after", "message": "not a cursor this API gave"}]) from None


def counts(session: Connection, exchange: Exchange, caller: Caller, now: datetime,
           soon: timedelta) -> dict[str, int]:
    """How many items the caller's organisation sent and received, and of those still
    open how many are overdue or fall due within `soon` (the console's inbox figures)."""
    open_ = and_(ITEMS.c.exchange == exchange.name, visible_to(exchange, caller),
                 ITEMS.c.due_at.is_not(None), ITEMS.c.status.not_in(exchange.closed_states))
    sent = ITEMS.c.sender_org == caller.org_id
    received = and_(ITEMS.c.recipient_org == caller.org_id, ITEMS.c.delivered_at.is_not(None))
    row = session.execute(select(
        func.count().filter(sent), func.count().filter(received))
        .where(ITEMS.c.exchange == exchange.name, or_(sent, received))).one()
    late = session.execute(select(
        func.count().filter(ITEMS.c.due_at < now),
        func.count().filter(and_(ITEMS.c.due_at >= now, ITEMS.c.due_at < now + soon)))
        .where(open_)).one()
    return {"sent": row[0], "received": row[1], "overdue": late[0], "due_soon": late[1]}


def list_visible(session: Connection, exchange: Exchange, caller: Caller, role: str | None,
                 status: str | None, overdue: bool | None, after: str | None,
                 limit: int, now: datetime) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; only what the caller's organisation sent or received."""
    mine = {"sent": ITEMS.c.sender_org == caller.org_id,
            "received": and_(ITEMS.c.recipient_org == caller.org_id,
                             ITEMS.c.delivered_at.is_not(None))}
    query = select(ITEMS).where(ITEMS.c.exchange == exchange.name,
                                mine[role] if role else visible_to(exchange, caller))
    if status:
        query = query.where(ITEMS.c.status == status)
    if overdue is not None:
        late = and_(ITEMS.c.due_at.is_not(None), ITEMS.c.due_at < now,
                    ITEMS.c.status.not_in(exchange.closed_states))
        query = query.where(late if overdue else ~late)
    if after:
        created, item_id = decode_cursor(after)
        query = query.where(or_(ITEMS.c.created_at < created,
                                and_(ITEMS.c.created_at == created, ITEMS.c.id < item_id)))
    items = session.execute(
        query.order_by(ITEMS.c.created_at.desc(), ITEMS.c.id.desc()).limit(limit + 1)).all()
    more = len(items) > limit
    items = items[:limit]
    steps = steps_of(session, [i.id for i in items])
    # A list is never an explicit request: an overseer sees no content in it.
    return ([as_seen_by(exchange, caller, i,
                        to_resource(exchange, i, steps[i.id], now, viewer=caller.org_id), None)
             for i in items],
            encode_cursor(items[-1]) if more else None)
