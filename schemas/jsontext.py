"""How the hub writes non-canonical JSON (answers, stored envelopes, outbox payloads):
orjson, compact and UTF-8 as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`
writes it, at a tenth of the cost. Canonical forms that are hashed or signed (audit,
evidence, request hashes) keep the standard library's encoder, which verifiers re-run."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps_bytes(value: Any, default: Any = None) -> bytes:
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits and the like: what orjson refuses, json writes.
        return json.dumps(value, default=default, ensure_ascii=False,
                          separators=(",", ":")).encode()


def dumps(value: Any, default: Any = None) -> str:
    return dumps_bytes(value, default).decode()
