"""Digests of messages: SHA-256 of their canonical JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
