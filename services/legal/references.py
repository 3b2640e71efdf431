"""The legal references the hub cites, as dated data (references.yaml): an exchange's
audit entries, evidence and resources name the reference in force when each was recorded,
so that a renumbering of the codes changes what new records say, never old ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

PARIS = ZoneInfo("Europe/Paris")  # legal dates are French dates
TABLE = Path(__file__).with_name("references.yaml")


@dataclass(frozen=True)
class Reference:
    key: str
    reference: str
    wording: str
    source: str
    in_force_from: date
    in_force_until: date | None = None
    note: str | None = None
    # The organisations the text designates as recipients, when it names them.
    recipients: tuple[str, ...] | None = None
    # The outcomes that, once final, oblige the recipient to remove what it received.
    erasing_outcomes: tuple[str, ...] | None = None

    def in_force(self, day: date) -> bool:
        return self.in_force_from <= day and (self.in_force_until is None
                                               or day <= self.in_force_until)

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "reference": self.reference, "wording": self.wording,
                "source": self.source, "in_force_from": self.in_force_from.isoformat(),
                "in_force_until": self.in_force_until and self.in_force_until.isoformat(),
                "note": self.note, "recipients": list(self.recipients or []) or None,
                "erasing_outcomes": list(self.erasing_outcomes or []) or None}


class References:
    def __init__(self, entries: list[Reference]):
        by_key: dict[str, list[Reference]] = {}
        for e in entries:
            by_key.setdefault(e.key, []).append(e)
        for key, versions in by_key.items():
            versions.sort(key=lambda r: r.in_force_from)
            for before, after in zip(versions, versions[1:], strict=False):
                if before.in_force_until is None or before.in_force_until >= after.in_force_from:
                    raise ValueError(f"{key}: {before.reference} is still in force when "
                                     f"{after.reference} starts")
        self._by_key = by_key

    @classmethod
    def load(cls, path: Path = TABLE) -> References:
        data = yaml.safe_load(path.read_text())
        lists = ("recipients", "erasing_outcomes")
        return cls([Reference(**{**entry, **{k: tuple(entry[k]) for k in lists if entry.get(k)}})
                    for entry in data["references"]])

    def at(self, key: str, when: datetime | date) -> Reference:
        """The reference in force for `key` on that day (Paris time)."""
        day = when.astimezone(PARIS).date() if isinstance(when, datetime) else when
        for ref in self._by_key.get(key, ()):
            if ref.in_force(day):
                return ref
        raise LookupError(f"no legal reference in force for {key} on {day}")

    def all(self) -> list[Reference]:
        return [r for versions in self._by_key.values() for r in versions]


# The table shipped with the hub: data, read once.
REFERENCES = References.load()
