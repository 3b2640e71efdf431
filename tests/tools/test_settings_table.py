"""docs/configuration.md is generated from Settings and names every variable the hub
reads."""

from __future__ import annotations

import re
import subprocess
import sys

from services.config import ROOT


def test_the_configuration_table_is_up_to_date():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "settings_table.py"),
                           "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_every_variable_read_is_in_it():
    table = (ROOT / "docs" / "configuration.md").read_text()
    read = set()
    for folder in ("services", "consumers", "schemas"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"""["'](VIGIE_[A-Z0-9_]+)["']""", path.read_text()))
    missing = {name for name in read if f"`{name}`" not in table
               and not name.startswith("VIGIE_DEADLINE_")}
    assert not missing, missing
    # Settings fields are explained (a group's fields share its comment: 〃).
    rows = [line for line in table.splitlines() if line.startswith("| `VIGIE_")]
    assert rows and all(line.rstrip(" |").split("|")[-1].strip() for line in rows[:90])
