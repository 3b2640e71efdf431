"""The benchmark's traffic: a realistic mix of the four exchanges built from the contract's
own request examples (the bodies the running hub must accept), each request with its own
Idempotency-Key, written as a vegeta targets file (JSON lines) before the run so that the
load generator does nothing but send."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from services.config import ROOT

# (exchange, sender, recipient or None for the contract's): notices dominate, as in the
# expected traffic; the trusted flagger's notices take the priority lane.
MIX: list[tuple[str, str, str | None]] = [
    ("content-notices", "vigilance-alpha", "plateforme-alpha"),
    ("content-notices", "vigilance-alpha", "plateforme-beta"),
    ("content-notices", "arcom", "plateforme-alpha"),
    ("information-requests", "tj-paris", "miviludes"),
    ("information-requests", "pr-marseille", "dgs"),
    ("order-notifications", "pr-marseille", None),
    ("suspension-orders", "tj-lyon", "plateforme-beta"),
]
# What a sender declares about itself must match its registry record (the contract's
# examples are a Paris judge's): a Marseille prosecutor leaves the court to the hub.
DECLARED = {"pr-marseille": {"requesting_authority": {"magistrate_role": "procureur_republique"},
                             "court": {}}}
SENDERS = sorted({sender for _, sender, _ in MIX})
RECIPIENTS = ("miviludes", "dgs", "cnop", "plateforme-alpha", "plateforme-beta")


def examples() -> dict[str, dict[str, Any]]:
    """Each exchange's submission example, from openapi/vigie.yaml."""
    spec = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())
    out = {}
    for exchange in {e for e, _, _ in MIX}:
        post = spec["paths"][f"/v1/{exchange}"]["post"]
        out[exchange] = post["requestBody"]["content"]["application/json"]["example"]
    return out


def bodies(count: int) -> Iterator[tuple[str, str, bytes]]:
    """`count` submissions (exchange, sender, JSON body), cycling through the mix; content
    notices name distinct URLs so that none is linked as another's duplicate."""
    base = examples()
    for i in range(count):
        exchange, sender, recipient = MIX[i % len(MIX)]
        body = copy.deepcopy(base[exchange])
        if recipient is not None:
            body["recipient"] = recipient
        for name, value in DECLARED.get(sender, {}).items():
            if name in body:
                body[name] = value
        if exchange == "content-notices":
            body["urls"] = [f"https://video.{body['recipient']}.example/watch?v={uuid.uuid4().hex}"]
        yield exchange, sender, json.dumps(body, ensure_ascii=False).encode()


def write(path: Path, base_url: str, tokens: dict[str, str], count: int) -> int:
    """The vegeta targets file; returns the number of targets written."""
    with path.open("w") as out:
        for exchange, sender, body in bodies(count):
            out.write(json.dumps({
                "method": "POST", "url": f"{base_url}/v1/{exchange}",
                "body": base64.b64encode(body).decode(),
                "header": {"Authorization": [f"Bearer {tokens[sender]}"],
                           "Content-Type": ["application/json"],
                           "Idempotency-Key": [str(uuid.uuid4())]}}) + "\n")
    return count
