"""Counts of items by period and by the dimensions asked for, with k-anonymity: a count
under the threshold is withheld, and so is a second one beside it when it alone would
let the first be recovered from the period's total."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, and_, func, literal, select
from sqlalchemy.orm import aliased

from ..exchanges.models import Item, ItemFact
from ..exchanges.registry import EXCHANGES
from ..legal.references import REFERENCES
from ..organisations.models import Organisation

ITEMS = Item.__table__
FACTS = ItemFact.__table__
ORGS = Organisation.__table__

# Dimensions read from the item and its parties.
ITEM_DIMENSIONS = ("state", "legal_basis", "sender_type", "recipient_type", "platform",
                   "deadline")
# Dimensions recorded as facts by the exchanges (services/exchanges/definition.py).
FACT_DIMENSIONS = ("outcome", "natinf", "profession", "category", "qualification",
                   "routed_to", "reason")
DIMENSIONS = ITEM_DIMENSIONS + FACT_DIMENSIONS
# Dimensions under which one item may count more than once (facts; a deadline met, then
# a later one after the item reopened).
MULTIPLE = frozenset(FACT_DIMENSIONS) | {"deadline"}
PERIODS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Query:
    since: date
    until: date            # exclusive
    exchanges: tuple[str, ...]
    by: tuple[str, ...]
    period: str = "month"


def period_of(day: date, period: str) -> str:
    if period == "year":
        return f"{day.year}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def _day(conn: Connection):
    """The UTC day an item was submitted, as text, on either database."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", ITEMS.c.created_at), "YYYY-MM-DD")
    return func.substr(ITEMS.c.created_at, 1, 10)


def _grouped(conn: Connection, query: Query) -> list[Any]:
    """Distinct items per day, state, parties and each fact dimension asked for."""
    sender, recipient = aliased(ORGS), aliased(ORGS)
    day = _day(conn).label("day")
    columns = [ITEMS.c.exchange, day, ITEMS.c.status, sender.c.type.label("sender_type"),
               recipient.c.type.label("recipient_type"), ITEMS.c.recipient_org]
    joins = ITEMS.join(sender, sender.c.id == ITEMS.c.sender_org).join(
        recipient, recipient.c.id == ITEMS.c.recipient_org)
    for name in [d for d in query.by if d in FACT_DIMENSIONS or d == "deadline"]:
        fact = aliased(FACTS, name=f"fact_{name}")
        joins = joins.outerjoin(fact, and_(fact.c.item_id == ITEMS.c.id,
                                           fact.c.name == literal(name)))
        columns.append(fact.c.value.label(name))
    since = datetime.combine(query.since, time(0), tzinfo=UTC)
    until = datetime.combine(query.until, time(0), tzinfo=UTC)
    statement = (select(*columns, func.count(func.distinct(ITEMS.c.id)).label("n"))
                 .select_from(joins)
                 .where(ITEMS.c.exchange.in_(query.exchanges),
                        ITEMS.c.created_at >= since, ITEMS.c.created_at < until)
                 .group_by(*columns))
    return conn.execute(statement).all()


def _value(row: Any, name: str) -> str:
    exchange = EXCHANGES[row.exchange]
    if name == "state":
        return row.status
    if name == "legal_basis":
        return REFERENCES.at(row.exchange, date.fromisoformat(row.day)).reference
    if name == "platform":
        return row.recipient_org if row.recipient_type == "platform" else "-"
    if name == "deadline":
        if row.deadline:
            return row.deadline
        return "no_deadline" if row.status in exchange.closed_states else "open"
    if name in ("sender_type", "recipient_type"):
        return getattr(row, name)
    return getattr(row, name) or "-"


def suppressed(cells: dict[tuple, int], groups: dict[Any, set],
               group_totals: dict[Any, int], threshold: int) -> set[tuple]:
    """The cells to withhold: every count under the threshold, and, in a group whose
    published total would give a lone withheld count away by subtraction, the smallest
    other count too."""
    withheld = {key for key, n in cells.items() if n < threshold}
    for group, keys in groups.items():
        small = [k for k in keys if k in withheld]
        if len(small) == 1 and len(keys) > 1 and group_totals[group] >= threshold:
            others = sorted((cells[k], k) for k in keys if k not in withheld)
            withheld.add(others[0][1])
    return withheld


def compute(conn: Connection, query: Query, threshold: int) -> dict[str, Any]:
    """The counts, grouped by period, exchange and `query.by`; every count under
    `threshold` withheld (`count: null, suppressed: true`)."""
    cells: dict[tuple, int] = defaultdict(int)
    totals: dict[tuple[str, str], set] = defaultdict(set)
    total_counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in _grouped(conn, query):
        period = period_of(date.fromisoformat(row.day), query.period)
        key = (period, row.exchange, *(_value(row, d) for d in query.by))
        cells[key] += row.n
        totals[(period, row.exchange)].add(key)
        if not MULTIPLE.intersection(query.by):
            total_counts[(period, row.exchange)] += row.n
    if MULTIPLE.intersection(query.by):
        # An item counts once in its period's total, however many values of a
        # dimension it has (two NATINF codes): counted again without them.
        for row in _grouped(conn, Query(query.since, query.until, query.exchanges, ())):
            total_counts[(period_of(date.fromisoformat(row.day), query.period),
                          row.exchange)] += row.n
    withheld = suppressed(cells, totals, total_counts, threshold)
    rows = [{"period": key[0], "exchange": key[1],
             **dict(zip(query.by, key[2:], strict=True)),
             "count": None if key in withheld else n, "suppressed": key in withheld}
            for key, n in sorted(cells.items())]
    return {"since": query.since.isoformat(), "until": query.until.isoformat(),
            "period": query.period, "by": list(query.by), "threshold": threshold,
            "rows": rows,
            "totals": [{"period": p, "exchange": e,
                        "count": n if n >= threshold else None,
                        "suppressed": n < threshold}
                       for (p, e), n in sorted(total_counts.items())]}
