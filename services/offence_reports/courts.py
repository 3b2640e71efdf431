"""Which prosecution is territorially competent for a place: a reference table from
communes and départements to jurisdictions (courts.yaml, or VIGIE_COURTS_FILE for the
full national table), then the registry's prosecution office acting for it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("courts.yaml")
# A commune's INSEE code: two digits (2A/2B in Corsica, 97x overseas) and three more.
INSEE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$")


@dataclass(frozen=True)
class Courts:
    # Communes that do not come under their département's default jurisdiction.
    communes: dict[str, str]
    departments: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Courts:
        data = yaml.safe_load(path.read_text()) or {}
        return cls({str(k): v for k, v in (data.get("communes") or {}).items()},
                   {str(k): v for k, v in (data.get("departments") or {}).items()})

    def jurisdiction(self, commune: str) -> str | None:
        """The jurisdiction competent for a commune, None if the table does not say."""
        if commune in self.communes:
            return self.communes[commune]
        department = commune[:3] if commune.startswith("97") else commune[:2]
        return self.departments.get(department)


def load() -> Courts:
    """The table in force: VIGIE_COURTS_FILE when set (the national table an operator
    mounts), else the one shipped with the hub."""
    return Courts.load(Path(os.environ.get("VIGIE_COURTS_FILE") or TABLE))


COURTS = load()
