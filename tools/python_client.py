"""Generate the Python client from the contract (`make client`) and put it on the
virtual environment's path. It is rebuilt from openapi/vigie.yaml, never edited or
committed: a contract the generator cannot read in full fails here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "clients" / "python"
# What the generator cannot express, and why that is acceptable: raw binary bodies
# (a document's bytes, a sealed record) are sent and read with the client's httpx
# connection (`client.get_httpx_client()`), as the README's examples show.
EXPECTED = [
    re.compile(r"WARNING parsing POST /v1/documents within documents\."),
    re.compile(r"WARNING parsing GET /v1/documents/\{id\} within documents\."),
    re.compile(r"WARNING parsing GET /v1/[a-z-]+/\{id\}/record\.pdf within [a-z_]+\."),
    re.compile(r"Cannot parse response for status code .* \(Unsupported content_type "
               r"application/pdf(, image/png, image/jpeg)?\), response will be omitted"),
]


def generate(contract: Path) -> list[str]:
    """Generate into build/clients/python; the warnings the generator printed."""
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    tool = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(tool), "generate", "--path", str(contract),
         "--config", str(ROOT / "tools" / "clients" / "python.yaml"), "--meta", "none",
         "--output-path", str(OUT / "vigie_client")],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"openapi-python-client failed:\n{done.stdout}{done.stderr}")
    return [line for line in done.stdout.splitlines()
            if line.startswith(("WARNING", "Unable to", "Cannot"))]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    contract = Path(args[0]) if args else ROOT / "openapi" / "vigie.yaml"
    unexpected = [w for w in generate(contract) if not any(p.match(w) for p in EXPECTED)]
    if unexpected:
        print("The generator left out parts of the contract:", *unexpected, sep="\n  ")
        return 1
    # A path entry, not an install: the package follows every regeneration.
    pth = Path(sysconfig.get_path("purelib")) / "vigie-client.pth"
    pth.write_text(f"{OUT}\n")
    print(f"generated {OUT / 'vigie_client'} (on the path through {pth.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
