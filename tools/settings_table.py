#!/usr/bin/env python3
"""docs/configuration.md: every environment variable the hub reads, in one table
generated from `Settings` (services/config.py) — the variable, the setting it fills, its
default, and the comment that explains the setting — and from the few variables read
elsewhere (named with the module that reads them).

    make config-docs                                  # write it
    .venv/bin/python tools/settings_table.py --check  # fail if it is not up to date
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "services" / "config.py"
OUT = ROOT / "docs" / "configuration.md"
SOURCES = ("services", "consumers", "schemas")
NAME = re.compile(r"""["'](VIGIE_[A-Z0-9_]+)["']""")


def _variable(node: ast.AST, local: dict[str, ast.AST]) -> tuple[str, str] | None:
    """The first VIGIE_ variable an expression reads (env.get, _int), with its default."""
    if isinstance(node, ast.Name) and node.id in local:
        return _variable(local[node.id], local)
    for call in ast.walk(node):
        if not isinstance(call, ast.Call) or len(call.args) < 1:
            continue
        args = call.args[1:] if isinstance(call.func, ast.Name) and call.func.id == "_int" \
            else call.args
        if args and isinstance(args[0], ast.Constant) and str(args[0].value).startswith(
                "VIGIE_"):
            default = ast.unparse(args[1]) if len(args) > 1 else "(none)"
            return args[0].value, default
    return None


def _comments(source: str, cls: ast.ClassDef) -> dict[str, str]:
    """Each dataclass field's explanation: the comment lines just above it, or, for a
    field of a group, the group's ("as above")."""
    lines = source.splitlines()
    out = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            above, i = [], stmt.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#"):
                above.insert(0, lines[i].strip().lstrip("#").strip())
                i -= 1
            out[stmt.target.id] = " ".join(above) or ("〃" if out else "")
    return out


def rows() -> list[tuple[str, str, str, str]]:
    source = CONFIG.read_text()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    comments = _comments(source, cls)
    from_env = next(n for n in cls.body if isinstance(n, ast.FunctionDef)
                    and n.name == "from_env")
    local = {t.id: stmt.value for stmt in ast.walk(from_env) if isinstance(stmt, ast.Assign)
             for t in stmt.targets if isinstance(t, ast.Name)}
    built = next(n for n in ast.walk(from_env) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "cls")
    out = []
    for keyword in built.keywords:
        found = _variable(keyword.value, local)
        if found:
            out.append((found[0], keyword.arg, found[1], comments.get(keyword.arg, "")))
    out.append(("VIGIE_DEADLINE_<EXCHANGE>_<STEP>", "deadlines", "each exchange's own",
                comments.get("deadlines", "") + " E.g. VIGIE_DEADLINE_INFORMATION_REQUESTS_"
                "ANSWER=60d; retention too: …_RETENTION, …_RETENTION_<STATE>."))
    return out


def elsewhere(known: set[str]) -> list[tuple[str, str]]:
    """Variables read outside Settings, with the module that reads them."""
    out: dict[str, set[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == CONFIG:
                continue
            for name in NAME.findall(path.read_text()):
                if name not in known:
                    out.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return [(name, ", ".join(sorted(paths))) for name, paths in sorted(out.items())]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def document() -> str:
    table = rows()
    known = {r[0] for r in table}
    lines = [
        "# Configuration", "",
        "Every environment variable the hub reads. Generated from `Settings`",
        "(`services/config.py`) by `make config-docs` (`tools/settings_table.py`); the",
        "suite fails when it is out of date. Every variable has a development default, so",
        "that `make run` works on a fresh machine; the Helm chart sets production's.", "",
        "| variable | setting | default | what it is for |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{v}` | `{s}` | `{_cell(d)}` | {_cell(c)} |" for v, s, d, c in table]
    lines += ["", "## Read outside `Settings`", "",
              "Tools and process wiring read these directly:", "",
              "| variable | read by |", "|---|---|"]
    lines += [f"| `{v}` | {where} |" for v, where in elsewhere(known)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = document()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/configuration.md is not up to date: run `make config-docs`",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print("wrote docs/configuration.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
