"""The one write path: every request's rows commit together with those of the requests
that arrived while the previous commit ran (group commit).

A request describes what it writes as a `Write` — plain rows, guards on the item it
changes, feed entries, evidence claims, its audit event — and waits for its group's
commit before it answers. The item, its feed entry (exactly once, by construction; the
relay publishes it to the recipient's topic from there), the evidence, the idempotency
record and the audit entry are in one transaction, which also appends the group's
evidence records and audit entries to the verifiable log and signs its checkpoint (one
signature per group). A group never fails as a whole because of one request: after any
error other than a lost database, the members are retried one by one, so only the faulty
one fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Table, select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from ..audit import service as audit
from ..audit.models import GENESIS, AuditEntry, AuditHead
from ..db import Database, run, utcnow
from ..evidence.models import Evidence
from ..evidence.service import ONCE_STEPS
from ..feed.models import FeedHead, FeedItem
from ..idempotency.models import IdempotencyRecord
from ..metrics import (
    COMMIT_SECONDS,
    DELIVERIES,
    DELIVERY_LATENCY,
    GROUP_SIZE,
    OVERLOAD_REFUSALS,
)
from ..verifiable_log.service import Appender, Leaf, audit_leaf
from ..verifiable_log.verifier import canonical
from ..webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)
IDEMPOTENCY = IdempotencyRecord.__table__
OUTBOX_CHANNEL = "vigie_outbox"


class Conflict(Exception):
    """A guard found the item changed since the request read it: nothing was written."""


class AlreadyAnswered(Exception):
    """The request's Idempotency-Key was used before: nothing was written; the caller
    answers with the stored answer (or refuses another request under the same key)."""


class Overloaded(Exception):
    """The request waited longer than the hub's budget before its commit could start."""


@dataclass(frozen=True)
class FeedEntry:
    """A message for a recipient's feed; its position is given at commit."""

    org_id: str
    message_id: str
    item_id: str
    event_type: str
    envelope: str          # the CloudEvents JSON text, stored and spliced as is
    exchange: str
    lane: str
    sent_at: datetime


@dataclass
class Write:
    """Everything one request commits."""

    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    # The idempotency record: claimed first, so a key used before writes nothing else.
    idempotency: dict[str, Any] | None = None
    # An UPDATE that must change exactly one row (the item's version check).
    guard: Executable | None = None
    feed: list[FeedEntry] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    audit: audit.Event | None = None
    # Rare extra work inside the transaction (an erasure rewriting earlier copies).
    then: Callable[[Connection], None] | None = None
    queued_at: float = field(default_factory=time.monotonic)


class GroupWriter:
    """One writer thread per process; callers block on (or await) their member's future."""

    def __init__(self, db: Database, log: Appender, max_group: int = 256,
                 budget_seconds: float = 0.5, on_commit: Callable[[], None] | None = None):
        self.db = db
        self.log = log
        self.max_group = max_group
        self.budget_seconds = budget_seconds
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[tuple[Write, Future | _LoopWaiter]] = queue.SimpleQueue()
        # Outcomes for members awaited on event loops, delivered after each group.
        self._to_wake: dict[asyncio.AbstractEventLoop, list[_LoopWaiter]] = defaultdict(list)
        self._thread = threading.Thread(target=self._run, name="group-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> Future:
        future: Future = Future()
        self._queue.put((write, future))
        return future

    async def written(self, write: Write) -> None:
        """Await the write's commit on the event loop (or raise what stopped it). The
        writer wakes each loop once per group, not once per member (a wake-up is a
        system call, and a group has dozens of members)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((write, _LoopWaiter(loop, future, self._to_wake)))
        await future

    def catch_up(self) -> bool:
        """Sign a checkpoint over leaves that have none yet (after a migration)."""
        with self.db.engine.begin() as conn:
            _, head = self._audit(conn, [])
            return self.log.catch_up(conn, head, utcnow())

    def commit(self, write: Write) -> None:
        """Block until the write is committed (or raise what stopped it)."""
        return self.submit(write).result()

    # --- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                self._one_group()
            except Exception:  # noqa: BLE001 - the writer must outlive any group
                log.exception("write group failed")
            finally:
                self._wake_loops()

    def _wake_loops(self) -> None:
        """Deliver the outcomes the last group left for event loops, one call per loop."""
        for loop, waiters in self._to_wake.items():
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(_deliver, waiters)
        self._to_wake.clear()

    def _one_group(self) -> None:
        group = [self._queue.get()]
        while len(group) < self.max_group:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        live = []
        for write, future in group:
            # A request whose client went away (its future cancelled) is not written;
            # once running, a future can no longer be cancelled.
            if not future.set_running_or_notify_cancel():
                continue
            if now - write.queued_at > self.budget_seconds:
                OVERLOAD_REFUSALS.labels("commit_queue").inc()
                future.set_exception(Overloaded())
            else:
                live.append((write, future))
        if not live:
            return
        try:
            self._commit_group(live)
        except Exception as exc:  # noqa: BLE001 - the writer must outlive any group
            log.exception("write group failed")
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)

    def _commit_group(self, group: list[tuple[Write, Future]]) -> None:
        started = time.perf_counter()
        try:
            results = self._transaction([w for w, _ in group])
        except (OperationalError, InterfaceError) as exc:
            for _, future in group:  # the database is away: every member is told (503)
                future.set_exception(exc)
            return
        except Exception as exc:  # noqa: BLE001 - one bad member must not fail the others
            if len(group) == 1:
                if not isinstance(exc, Conflict):
                    log.exception("write refused")
                group[0][1].set_exception(exc)
                return
            for member in group:
                self._commit_group([member])
            return
        GROUP_SIZE.observe(len(group))
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for (_, future), refused in zip(group, results, strict=True):
            if refused is None:
                future.set_result(None)
            else:
                future.set_exception(refused)
        if self.on_commit is not None:
            self.on_commit()

    def _transaction(self, writes: list[Write]) -> list[Exception | None]:
        """Commit the members; per member, None or why it was left out."""
        now = utcnow()
        results: list[Exception | None] = [None] * len(writes)
        with self.db.engine.begin() as conn:
            claimed = self._claim_keys(conn, writes)
            live: list[int] = []
            for i, write in enumerate(writes):
                if not claimed[i]:
                    results[i] = AlreadyAnswered()
                elif write.guard is None or conn.execute(write.guard).rowcount == 1:
                    live.append(i)
                else:
                    # Guards come before any other row: a conflicting member has written
                    # nothing but its key, withdrawn here.
                    results[i] = Conflict()
                    if write.idempotency is not None:
                        key = write.idempotency
                        conn.execute(IDEMPOTENCY.delete().where(
                            IDEMPOTENCY.c.client_id == key["client_id"],
                            IDEMPOTENCY.c.key == key["key"]))
            members = [writes[i] for i in live]
            self._rows(conn, members)
            self._feed(conn, members, now)
            evidence = self._evidence(conn, members)
            entries, head = self._audit(conn, members)
            self._log(conn, evidence, entries, head, now)
            for write in members:
                if write.then is not None:
                    write.then(conn)
            if any(w.feed for w in members) and self.db.dialect == "postgresql":
                conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        self._observe(members, now)
        return results

    def _claim_keys(self, conn: Connection, writes: list[Write]) -> list[bool]:
        """Insert the idempotency records, skipping keys already taken (by an earlier
        request, or by another member of this group); which members got theirs."""
        rows = [w.idempotency for w in writes if w.idempotency is not None]
        if not rows:
            return [True] * len(writes)
        got = set(self.db.insert_rows(conn, IDEMPOTENCY, rows,
                                      on_conflict="(client_id, \"key\") DO NOTHING",
                                      returning="client_id, \"key\""))
        out, seen = [], set()
        for w in writes:
            if w.idempotency is None:
                out.append(True)
                continue
            key = (w.idempotency["client_id"], w.idempotency["key"])
            out.append(key in got and key not in seen)
            seen.add(key)
        return out

    def _rows(self, conn: Connection, writes: list[Write]) -> None:
        """Multi-row inserts, one statement per table and column set, in first-seen order
        (items before the rows that refer to them)."""
        batches: dict[tuple[Table, tuple[str, ...]], list[dict]] = {}
        for write in writes:
            for table, row in write.rows:
                batches.setdefault((table, tuple(row)), []).append(row)
        for (table, _), rows in batches.items():
            self.db.insert_rows(conn, table, rows)

    def _feed(self, conn: Connection, writes: list[Write], now: datetime) -> None:
        """Positions in each recipient's feed, taken from its head (row locks in org order
        so that concurrent writers of other processes never deadlock), then the entries
        and their webhook deliveries."""
        wanted = Counter(e.org_id for w in writes for e in w.feed)
        if not wanted:
            return
        # One statement; its rows are locked in the order given (org order).
        last = dict(self.db.insert_rows(
            conn, FeedHead.__table__,
            [{"org_id": org, "last_seq": wanted[org]} for org in sorted(wanted)],
            on_conflict="(org_id) DO UPDATE SET last_seq = feed_heads.last_seq "
                        "+ excluded.last_seq",
            returning="org_id, last_seq"))
        next_seq = {org: last[org] - wanted[org] + 1 for org in wanted}
        hooks: dict[str, list[str]] = defaultdict(list)
        orgs = sorted(wanted)
        for hook_id, org_id in run(
                conn, "SELECT id, org_id FROM webhooks WHERE enabled = %s AND org_id IN ("
                + ", ".join(["%s"] * len(orgs)) + ")", [True, *orgs]):
            hooks[org_id].append(hook_id)
        entries, deliveries = [], []
        for write in writes:
            for e in write.feed:
                seq = next_seq[e.org_id]
                next_seq[e.org_id] += 1
                # Delivered at the instant the request stamped on everything it commits.
                entries.append({"org_id": e.org_id, "seq": seq, "message_id": e.message_id,
                                "item_id": e.item_id, "event_type": e.event_type,
                                "envelope": e.envelope, "delivered_at": e.sent_at})
                deliveries += [{"webhook_id": h, "org_id": e.org_id, "feed_seq": seq,
                                "message_id": e.message_id, "next_attempt_at": now,
                                "status": "pending", "attempts": 0, "replays": 0,
                                "created_at": now} for h in hooks.get(e.org_id, ())]
        # The feed is also the outbox: the relay publishes these entries to the recipient's
        # topic, exactly what the REST feed serves, in the same order.
        self.db.insert_rows(conn, FeedItem.__table__, entries)
        self.db.insert_rows(conn, WebhookDelivery.__table__, deliveries)

    def _evidence(self, conn: Connection, writes: list[Write]) -> list[dict[str, Any]]:
        """The group's evidence claims; steps recorded once per item (retrieved) are
        checked here, inside the transaction."""
        claims = [c for w in writes for c in w.evidence]
        once = {c["item"] for c in claims if c["step"] in ONCE_STEPS}
        if once:
            done = set(conn.execute(select(Evidence.item_id, Evidence.step).where(
                Evidence.item_id.in_(list(once)), Evidence.step.in_(ONCE_STEPS))).all())
            kept = []
            for c in claims:
                key = (c["item"], c["step"])
                if c["step"] in ONCE_STEPS:
                    if key in done:
                        continue
                    done.add(key)
                kept.append(c)
            claims = kept
        return claims

    def _audit(self, conn: Connection, writes: list[Write]) -> tuple[list[dict], tuple[int, str]]:
        """Chain the group's audit entries under the head's lock, taken once; the entries
        and the chain's head after them."""
        events = [w.audit for w in writes if w.audit is not None]
        heads = AuditHead.__table__
        found = run(conn, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1"
                            + (" FOR UPDATE" if events else ""))
        head = found[0] if found else None
        seq, prev = head if head else (0, GENESIS)
        if not events:
            return [], (seq, prev)
        rows = []
        for event in events:
            seq += 1
            digest = audit.entry_hash(prev, seq, event)
            rows.append({**audit.fields(event), "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        self.db.insert_rows(conn, AuditEntry.__table__, rows)
        if head is None:
            conn.execute(heads.insert().values(id=1, last_seq=seq, last_hash=prev))
        else:
            run(conn, "UPDATE audit_head SET last_seq = %s, last_hash = %s "
                        "WHERE id = 1", [seq, prev])
        return rows, (seq, prev)

    def _log(self, conn: Connection, claims: list[dict[str, Any]], entries: list[dict],
             head: tuple[int, str], now: datetime) -> None:
        """Append the group's evidence records and audit entries to the verifiable log (one
        checkpoint signed for the group), the evidence rows naming their leaf."""
        texts = [canonical(c) for c in claims]
        leaves = [Leaf("evidence", t, item_id=c["item"]) for c, t in zip(claims, texts,
                                                                        strict=True)]
        leaves += [audit_leaf(e) for e in entries]
        if not leaves:
            return
        first = self.log.append(conn, leaves, head, now)
        if claims:
            self.db.insert_rows(conn, Evidence.__table__, [
                {"item_id": c["item"], "step": c["step"],
                 "at": datetime.fromisoformat(c["at"]), "claims": t.decode(),
                 "log_index": first + i}
                for i, (c, t) in enumerate(zip(claims, texts, strict=True))])

    @staticmethod
    def _observe(writes: list[Write], now: datetime) -> None:
        for write in writes:
            for e in write.feed:
                DELIVERIES.labels("feed", "delivered").inc()
                DELIVERY_LATENCY.labels(e.exchange, e.lane).observe(
                    max(0.0, (now - e.sent_at).total_seconds()))


class _LoopWaiter:
    """A member awaited on an event loop: its outcome is kept until the writer wakes the
    loop (a `Future`'s interface, as far as the writer uses it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future,
                 to_wake: dict[asyncio.AbstractEventLoop, list[_LoopWaiter]]):
        self.loop = loop
        self.future = future
        self.to_wake = to_wake
        self.outcome: tuple[bool, Any] | None = None

    def set_running_or_notify_cancel(self) -> bool:
        # Read from the writer thread: at worst a request cancelled this very moment is
        # written anyway, as one whose client left after its commit.
        return not self.future.cancelled()

    def done(self) -> bool:
        return self.outcome is not None

    def set_result(self, value: Any) -> None:
        self.outcome = (True, value)
        self.to_wake[self.loop].append(self)

    def set_exception(self, exc: BaseException) -> None:
        self.outcome = (False, exc)
        self.to_wake[self.loop].append(self)


def _deliver(waiters: list[_LoopWaiter]) -> None:
    """On the waiters' loop: their futures take their outcomes."""
    for waiter in waiters:
        if waiter.future.done() or waiter.outcome is None:
            continue  # cancelled meanwhile
        ok, value = waiter.outcome
        if ok:
            waiter.future.set_result(value)
        else:
            waiter.future.set_exception(value)


def feed_text(seq: int, delivered_at: str, envelope: str) -> str:
    """A feed entry as served (REST page item and topic record): the stored envelope text
    spliced in, never parsed again."""
    return f'{{"cursor":"{seq}","delivered_at":"{delivered_at}","event":{envelope}}}'

