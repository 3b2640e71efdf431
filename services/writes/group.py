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
import functools
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

from sqlalchemy import Connection, MetaData, Table
from sqlalchemy.exc import InterfaceError, OperationalError

from ..audit import service as audit
from ..audit.models import GENESIS, AuditEntry, AuditHead
from ..db import Database, Result, Statements, utcnow
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
from . import wire

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


@dataclass(frozen=True)
class Guard:
    """An item's version check: the UPDATE of the item (`changes`) must change exactly
    one row, or somebody changed the item since the request read it."""

    table: Table
    id: str
    version: int
    changes: dict[str, Any]

    def statement(self) -> tuple[str, list[Any]]:
        names = ", ".join(f'"{n}" = %s' for n in self.changes)
        return (f"UPDATE {self.table.name} SET {names} WHERE id = %s AND version = %s",
                [*self.changes.values(), self.id, self.version])


@dataclass(frozen=True)
class Condition:
    """A statement that must change exactly `rows` rows, or the write is refused as a
    Conflict (e.g. documents attached to an item only if still free)."""

    sql: str
    params: list[Any]
    rows: int


@dataclass
class Write:
    """Everything one request commits."""

    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    # The idempotency record: claimed first, so a key used before writes nothing else.
    idempotency: dict[str, Any] | None = None
    # The item's version check (a lifecycle step, an erasure).
    guard: Guard | None = None
    conditions: list[Condition] = field(default_factory=list)
    feed: list[FeedEntry] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    audit: audit.Event | None = None
    # Rare extra work inside the transaction (an erasure rewriting earlier copies).
    then: Callable[[Connection], None] | None = None
    queued_at: float = field(default_factory=time.monotonic)


for _travelling in (Write, FeedEntry, Guard, Condition, audit.Event):
    wire.allow(_travelling)


@functools.lru_cache(maxsize=4)
def _ranks(metadata: MetaData, tables: int) -> dict[str, int]:
    return {t.name: n for n, t in enumerate(metadata.sorted_tables)}


def _dependency_rank(table: Table) -> int:
    """A table's place in its metadata's foreign-key order (computed again should a
    table be declared after the first write)."""
    return _ranks(table.metadata, len(table.metadata.tables))[table.name]


class GroupWriter:
    """Writer threads (`writers`, each with its own connection) taking the requests queued
    while they were busy as one group each; callers block on (or await) their member's
    future. With two, one writer's first round trip — keys, guards, rows — runs while the
    other holds the shared heads."""

    def __init__(self, db: Database, log: Appender, max_group: int = 256,
                 budget_seconds: float = 0.5, on_commit: Callable[[], None] | None = None,
                 writers: int = 1, pace_seconds: float = 0.0):
        """`pace_seconds`: the shortest time between the starts of two groups of one writer
        thread. Unpaced, a writer that is never idle commits as often as it can, and each
        group's fixed cost (two round trips, some twenty statements) is paid as often at
        half the load as at full: measured at 630 submissions a second, groups of eight
        every 10 ms and the machine's two cores nearly full. A write that finds the writer
        idle never waits for the pace."""
        self.db = db
        self.log = log
        self.max_group = max_group
        self.pace_seconds = pace_seconds
        self.budget_seconds = budget_seconds
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[tuple[Write, Future | Waiter]] = queue.SimpleQueue()
        self._busy = 0
        self._idle = threading.Condition()
        self._threads = [threading.Thread(target=self._run, name=f"group-writer-{i + 1}",
                                          daemon=True) for i in range(max(1, writers))]
        for thread in self._threads:
            thread.start()

    def submit(self, write: Write) -> Future:
        future: Future = Future()
        self._queue.put((write, future))
        return future

    def enqueue(self, write: Write, waiter: Waiter) -> None:
        """Queue a write whose outcome goes to `waiter` (delivered with its group's)."""
        self._queue.put((write, waiter))

    async def written(self, write: Write) -> None:
        """Await the write's commit on the event loop (or raise what stopped it). The
        writer wakes each loop once per group, not once per member (a wake-up is a
        system call, and a group has dozens of members)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((write, _LoopWaiter(loop, future)))
        await future

    def catch_up(self) -> bool:
        """Sign a checkpoint over leaves that have none yet (after a migration); make sure
        the chain's head exists, so that every group finds a row to lock."""
        with self.db.engine.connect() as conn:
            conn.begin()
            with Statements(self.db, conn) as statements:
                statements.insert(AuditHead.__table__,
                                  [{"id": 1, "last_seq": 0, "last_hash": GENESIS}],
                                  on_conflict="(id) DO NOTHING")
                found = statements.run(
                    "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE")
                log_head = self.log.lock(statements)
                latest = statements.run("SELECT max(size) FROM log_checkpoints")
                statements.send()
                _, head = self._audit(statements, [], found)
                signed = self.log.catch_up(statements, log_head, latest.rows[0][0], head,
                                           utcnow())
                statements.commit()
                return signed

    def commit(self, write: Write) -> None:
        """Block until the write is committed (or raise what stopped it)."""
        return self.submit(write).result()

    # --- the writer thread ------------------------------------------------------------

    def drain(self, timeout: float) -> bool:
        """Wait until every write queued so far is committed (or refused): a writer
        process stopping lets its groups finish."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0 and self._queue.empty(),
                                       timeout)

    def _run(self) -> None:
        started = 0.0
        while True:
            group = [self._queue.get()]
            with self._idle:
                self._busy += 1
            if (rest := started + self.pace_seconds - time.monotonic()) > 0:
                time.sleep(rest)
            started = time.monotonic()
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._one_group(group)
            except Exception:  # noqa: BLE001 - the writer must outlive any group
                log.exception("write group failed")
            finally:
                _deliver_outcomes(group)
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _one_group(self, group: list[tuple[Write, Future | Waiter]]) -> None:
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
        """Commit the members; per member, None or why it was left out. A member refused
        inside the transaction (its key used before, its item changed) is told so and the
        others go again, in a new transaction, so that it leaves nothing behind."""
        results: list[Exception | None] = [None] * len(writes)
        members = list(range(len(writes)))
        while members:
            now = utcnow()
            with self.db.engine.connect() as conn:
                conn.begin()
                with Statements(self.db, conn) as statements:
                    refused = self._statements(statements, conn,
                                               [writes[i] for i in members], now)
                    if not refused:
                        statements.commit()
                        self._observe([writes[i] for i in members], now)
                        return results
            for j, why in refused.items():
                results[members[j]] = why
            members = [m for j, m in enumerate(members) if j not in refused]
        return results

    def _statements(self, statements: Statements, conn: Connection, writes: list[Write],
                    now: datetime) -> dict[int, Exception]:
        """Everything the members write, in two round trips (the commit rides on the
        second); the members refused by the first, if any (then nothing is kept).

        The first claims the keys, checks the guards and inserts the rows that need no
        position, then locks the heads shared by every writer — the feeds' (in org order),
        the audit chain's, the log's, always in this order — and reads what the second
        needs; the second appends what takes a position under them. The heads stay
        locked from the end of the first round trip to the commit: while one writer holds
        them, another runs its first round trip."""
        keys = self._claim(statements, writes)
        guards = [None if w.guard is None else statements.run(*w.guard.statement())
                  for w in writes]
        conditions = [[(statements.run(c.sql, c.params), c.rows) for c in w.conditions]
                      for w in writes]
        self._rows(statements, writes)
        wanted = Counter(e.org_id for w in writes for e in w.feed)
        feed = self._lock_feeds(statements, wanted)
        audit_head = statements.run(
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE")
        log_head = self.log.lock(statements)
        claims = [c for w in writes for c in w.evidence]
        once = sorted({c["item"] for c in claims if c["step"] in ONCE_STEPS})
        recorded = None
        if once:
            recorded = statements.run(
                "SELECT item_id, step FROM evidence WHERE step IN ("
                + ", ".join(["%s"] * len(ONCE_STEPS)) + ") AND item_id IN ("
                + ", ".join(["%s"] * len(once)) + ")", [*ONCE_STEPS, *once])
        statements.send()
        refused = self._refused(writes, keys, guards, conditions)
        if refused:
            return refused
        self._feed(statements, writes, wanted, feed, now)
        evidence = self._evidence(claims, recorded)
        entries, head = self._audit(statements, writes, audit_head)
        self._log(statements, evidence, entries, head, log_head, now)
        hooks = [w.then for w in writes if w.then is not None]
        if hooks:  # rare (an erasure rewriting earlier copies): on the connection itself
            statements.send()
            statements.close()
            for hook in hooks:
                hook(conn)
        if any(w.feed for w in writes) and self.db.dialect == "postgresql":
            statements.run(f"NOTIFY {OUTBOX_CHANNEL}", read=False)
        return {}

    @staticmethod
    def _claim(statements: Statements, writes: list[Write]) -> Result | None:
        """Insert the idempotency records, skipping keys already taken (in key order, so
        that two writers claiming the same keys never wait on each other in a cycle)."""
        rows = sorted((w.idempotency for w in writes if w.idempotency is not None),
                      key=lambda r: (r["client_id"], r["key"]))
        if not rows:
            return None
        return statements.insert(IDEMPOTENCY, rows,
                                 on_conflict="(client_id, \"key\") DO NOTHING",
                                 returning="client_id, \"key\"")

    @staticmethod
    def _refused(writes: list[Write], keys: Result | None, guards: list[Result | None],
                 conditions: list[list[tuple[Result, int]]]) -> dict[int, Exception]:
        """The members whose key was taken (by an earlier request, or by another member
        of this group) or whose guard found the item changed, or a condition unmet."""
        got = set(keys.rows) if keys is not None else set()
        refused: dict[int, Exception] = {}
        seen = set()
        for i, (write, guard) in enumerate(zip(writes, guards, strict=True)):
            if write.idempotency is not None:
                key = (write.idempotency["client_id"], write.idempotency["key"])
                if key not in got or key in seen:
                    refused[i] = AlreadyAnswered()
                seen.add(key)
            if i not in refused and guard is not None and guard.rowcount != 1:
                refused[i] = Conflict()
            if i not in refused and any(r.rowcount != n for r, n in conditions[i]):
                refused[i] = Conflict()
        return refused

    @staticmethod
    def _rows(statements: Statements, writes: list[Write]) -> None:
        """Multi-row inserts, one statement per table and column set, tables in the order
        of their foreign keys (items before the rows that refer to them, whichever
        request of the group brought them first)."""
        batches: dict[tuple[Table, tuple[str, ...]], list[dict]] = {}
        for write in writes:
            for table, row in write.rows:
                batches.setdefault((table, tuple(row)), []).append(row)
        for (table, _), rows in sorted(batches.items(),
                                       key=lambda batch: _dependency_rank(batch[0][0])):
            statements.insert(table, rows)

    @staticmethod
    def _lock_feeds(statements: Statements, wanted: Counter[str]
                    ) -> tuple[Result, Result] | None:
        """Take the positions in each recipient's feed from its head (one statement, its
        rows locked in org order, so that concurrent writers never deadlock), and read
        the recipients' webhooks."""
        if not wanted:
            return None
        orgs = sorted(wanted)
        heads = statements.insert(
            FeedHead.__table__, [{"org_id": org, "last_seq": wanted[org]} for org in orgs],
            on_conflict="(org_id) DO UPDATE SET last_seq = feed_heads.last_seq "
                        "+ excluded.last_seq",
            returning="org_id, last_seq")
        hooks = statements.run(
            "SELECT id, org_id FROM webhooks WHERE enabled = %s AND org_id IN ("
            + ", ".join(["%s"] * len(orgs)) + ")", [True, *orgs])
        return heads, hooks

    def _feed(self, statements: Statements, writes: list[Write], wanted: Counter[str],
              feed: tuple[Result, Result] | None, now: datetime) -> None:
        """The feed entries at the positions taken, and their webhook deliveries."""
        if feed is None:
            return
        heads, found = feed
        last = dict(heads.rows)
        next_seq = {org: last[org] - wanted[org] + 1 for org in wanted}
        hooks: dict[str, list[str]] = defaultdict(list)
        for hook_id, org_id in found.rows:
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
        statements.insert(FeedItem.__table__, entries)
        statements.insert(WebhookDelivery.__table__, deliveries)

    @staticmethod
    def _evidence(claims: list[dict[str, Any]], recorded: Result | None
                  ) -> list[dict[str, Any]]:
        """The group's evidence claims, less the steps recorded once per item (retrieved)
        that are recorded already — read under the log's lock, which every evidence
        record is appended under."""
        if recorded is None:
            return claims
        done = set(recorded.rows)
        kept = []
        for c in claims:
            key = (c["item"], c["step"])
            if c["step"] in ONCE_STEPS:
                if key in done:
                    continue
                done.add(key)
            kept.append(c)
        return kept

    @staticmethod
    def _audit(statements: Statements, writes: list[Write], found: Result
               ) -> tuple[list[dict], tuple[int, str]]:
        """Chain the group's audit entries after the head read under its lock; the
        entries and the chain's head after them."""
        events = [w.audit for w in writes if w.audit is not None]
        seq, prev = found.rows[0] if found.rows else (0, GENESIS)
        if not events:
            return [], (seq, prev)
        rows = []
        for event in events:
            seq += 1
            digest = audit.entry_hash(prev, seq, event)
            rows.append({**audit.fields(event), "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        statements.insert(AuditEntry.__table__, rows)
        statements.insert(AuditHead.__table__, [{"id": 1, "last_seq": seq, "last_hash": prev}],
                          on_conflict="(id) DO UPDATE SET last_seq = excluded.last_seq, "
                                      "last_hash = excluded.last_hash")
        return rows, (seq, prev)

    def _log(self, statements: Statements, claims: list[dict[str, Any]], entries: list[dict],
             head: tuple[int, str], log_head: Result, now: datetime) -> None:
        """Append the group's evidence records and audit entries to the verifiable log (one
        checkpoint signed for the group), the evidence rows naming their leaf."""
        texts = [canonical(c) for c in claims]
        leaves = [Leaf("evidence", t, item_id=c["item"]) for c, t in zip(claims, texts,
                                                                        strict=True)]
        leaves += [audit_leaf(e) for e in entries]
        if not leaves:
            return
        first = self.log.append(statements, log_head, leaves, head, now)
        if claims:
            statements.insert(Evidence.__table__, [
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


class Waiter:
    """A member whose outcome is kept until its group is done, then delivered with those
    of the other members going to the same place (`key`: an event loop, a connection) in
    one call — a wake-up is a system call, and a group has dozens of members. Has the
    part of a `Future`'s interface the writer uses."""

    key: Any = None

    def __init__(self) -> None:
        self.outcome: tuple[bool, Any] | None = None

    def set_running_or_notify_cancel(self) -> bool:
        return True

    def done(self) -> bool:
        return self.outcome is not None

    def set_result(self, value: Any) -> None:
        self.outcome = (True, value)

    def set_exception(self, exc: BaseException) -> None:
        self.outcome = (False, exc)

    @classmethod
    def deliver(cls, key: Any, waiters: list[Waiter]) -> None:
        raise NotImplementedError


class _LoopWaiter(Waiter):
    """A member awaited on an event loop of this process."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future):
        super().__init__()
        self.key = loop
        self.future = future

    def set_running_or_notify_cancel(self) -> bool:
        # Read from the writer thread: at worst a request cancelled this very moment is
        # written anyway, as one whose client left after its commit.
        return not self.future.cancelled()

    @classmethod
    def deliver(cls, key: Any, waiters: list[Waiter]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            key.call_soon_threadsafe(_settle, waiters)


def _settle(waiters: list[_LoopWaiter]) -> None:
    """On the waiters' loop: their futures take their outcomes."""
    for waiter in waiters:
        if waiter.future.done() or waiter.outcome is None:
            continue  # cancelled meanwhile
        ok, value = waiter.outcome
        if ok:
            waiter.future.set_result(value)
        else:
            waiter.future.set_exception(value)


def _deliver_outcomes(group: list[tuple[Write, Future | Waiter]]) -> None:
    """Deliver a group's outcomes kept by waiters, one call per destination."""
    places: dict[tuple[type[Waiter], Any], list[Waiter]] = defaultdict(list)
    for _, member in group:
        if isinstance(member, Waiter) and member.outcome is not None:
            places[(type(member), member.key)].append(member)
    for (kind, key), waiters in places.items():
        try:
            kind.deliver(key, waiters)
        except Exception:  # noqa: BLE001 - one destination gone must not stop the others
            log.exception("write outcomes not delivered")


def feed_text(seq: int, delivered_at: str, envelope: str) -> str:
    """A feed entry as served (REST page item and topic record): the stored envelope text
    spliced in, never parsed again."""
    return f'{{"cursor":"{seq}","delivered_at":"{delivered_at}","event":{envelope}}}'

