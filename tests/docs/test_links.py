"""The project's documents stand alone: the README links only inside the repository, and
every relative link of the README and of docs/ leads to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _links(path: Path) -> list[str]:
    return LINK.findall(path.read_text(encoding="utf-8"))


def test_the_readme_links_nothing_outside_the_repository():
    outside = [target for target in _links(ROOT / "README.md")
               if re.match(r"^[a-z][a-z0-9+.-]*:", target)]
    assert outside == []


def test_every_relative_link_leads_to_a_file():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for document in documents:
        for target in _links(document):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            if not (document.parent / target.split("#")[0]).exists():
                broken.append(f"{document.relative_to(ROOT)} -> {target}")
    assert len(documents) > 4 and broken == []
