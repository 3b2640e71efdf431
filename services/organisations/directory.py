"""The organisations as the hot path needs them: who exists, of which type, governing
which profession — and which clients are disabled. Organisations are read from the
database at most every `max_age` seconds, and again at once on an unknown id, so that
routing a submission costs no query and a new organisation is known at its first message.
Disabled clients are read by a background thread every `client_max_age` seconds (token
verification runs on the event loop and must not wait for the database), so that
disabling one refuses its tokens within seconds."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import select

from ..db import Database
from ..refresh import Periodic
from .models import Client, Organisation, TrustedFlaggerStatus


@dataclass(frozen=True)
class Entry:
    id: str
    type: str
    profession: str | None
    name: str = ""
    jurisdiction: str | None = None
    jurisdiction_name: str | None = None
    # A trusted flagger's decisions, oldest first: (effective from, status, areas).
    flagger: tuple[tuple[date, str, frozenset[str]], ...] = ()

    def flagger_status(self, day: date) -> tuple[str, frozenset[str]] | None:
        """The status in force on `day` (the latest decision effective by then)."""
        current = None
        for since, status, areas in self.flagger:
            if since <= day:
                current = (status, areas)
        return current


class Directory:
    def __init__(self, db: Database, max_age: float = 30.0, miss_interval: float = 0.5,
                 client_max_age: float = 2.0):
        self.db = db
        self.max_age = max_age
        self.miss_interval = miss_interval
        self.client_max_age = client_max_age
        self._entries: dict[str, Entry] = {}
        self._loaded_at = float("-inf")
        self._disabled: frozenset[str] | None = None
        self._lock = threading.Lock()
        self._clients = Periodic("directory", client_max_age, self._load_disabled)
        # Kept fresh in the background too, so that the event loop's view is current.
        self._organisations = Periodic("organisations", max_age / 2,
                                       lambda: self._fresh(max_age / 2))

    def _load(self) -> None:
        with self.db.sessions() as session:
            rows = session.execute(select(Organisation.id, Organisation.type,
                                          Organisation.profession, Organisation.name,
                                          Organisation.jurisdiction,
                                          Organisation.jurisdiction_name)).all()
            decisions = session.execute(
                select(TrustedFlaggerStatus.org_id, TrustedFlaggerStatus.effective_from,
                       TrustedFlaggerStatus.status, TrustedFlaggerStatus.areas)
                .order_by(TrustedFlaggerStatus.effective_from, TrustedFlaggerStatus.id)).all()
        flagger: dict[str, list] = {}
        for org_id, since, status, areas in decisions:
            flagger.setdefault(org_id, []).append((since, status, frozenset(areas.split())))
        self._entries = {r.id: Entry(*r, flagger=tuple(flagger.get(r.id, ()))) for r in rows}
        self._loaded_at = time.monotonic()

    def _fresh(self, older_than: float) -> None:
        if time.monotonic() - self._loaded_at > older_than:
            with self._lock:
                if time.monotonic() - self._loaded_at > older_than:
                    self._load()

    def refresh(self) -> None:
        """Read the registry again now (after an operator changed a record)."""
        with self._lock:
            self._load()

    def get(self, org_id: str) -> Entry | None:
        self._fresh(self.max_age)
        entry = self._entries.get(org_id)
        if entry is None:
            self._fresh(self.miss_interval)
            entry = self._entries.get(org_id)
        return entry

    def _load_disabled(self) -> None:
        with self.db.sessions() as session:
            self._disabled = frozenset(session.scalars(
                select(Client.client_id).where(Client.enabled.is_(False))))

    def start(self) -> None:
        """Read the organisations and the disabled clients now, then keep them fresh in
        the background."""
        self._organisations.start()
        self._clients.start()

    def stop(self) -> None:
        self._organisations.stop()
        self._clients.stop()

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self.max_age

    def cached(self) -> CachedView:
        """The registry as last read, for the event loop (it never reads)."""
        return CachedView(self)

    def client_disabled(self, client_id: str) -> bool:
        if self._disabled is None:  # not started (a command, not a server): read once
            self._load_disabled()
        return client_id in self._disabled

    def governing(self, profession: str) -> list[str]:
        """The health orders that govern a profession."""
        self._fresh(self.max_age)
        return sorted(e.id for e in self._entries.values()
                      if e.type == "health_order" and e.profession == profession)

    def acting_for(self, org_type: str, jurisdiction: str) -> list[str]:
        """The organisations of a type acting for a jurisdiction (e.g. its parquet)."""
        self._fresh(self.max_age)
        return _acting_for(self._entries, org_type, jurisdiction)


def _acting_for(entries: dict[str, Entry], org_type: str, jurisdiction: str) -> list[str]:
    return sorted(e.id for e in entries.values()
                  if e.type == org_type and e.jurisdiction == jurisdiction)


class CachedView:
    """A directory's entries as last read, never reading the database; `missed` says an
    answer may be out of date (an unknown id, or a read overdue), so that the caller asks
    the directory itself again, off the event loop."""

    def __init__(self, directory: Directory):
        self._directory = directory
        self.missed = directory.stale()

    def get(self, org_id: str) -> Entry | None:
        entry = self._directory._entries.get(org_id)
        if entry is None:
            self.missed = True
        return entry

    def governing(self, profession: str) -> list[str]:
        return sorted(e.id for e in self._directory._entries.values()
                      if e.type == "health_order" and e.profession == profession)

    def acting_for(self, org_type: str, jurisdiction: str) -> list[str]:
        found = _acting_for(self._directory._entries, org_type, jurisdiction)
        if not found:
            self.missed = True  # perhaps registered since the last read
        return found


class Organisations(Protocol):
    """What the exchanges' routing reads of the registry (a Directory or its view)."""

    def get(self, org_id: str) -> Entry | None: ...

    def governing(self, profession: str) -> list[str]: ...

    def acting_for(self, org_type: str, jurisdiction: str) -> list[str]: ...
