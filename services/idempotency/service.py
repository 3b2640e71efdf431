"""Idempotency-Key handling: the same key and request return the first answer; the
same key with another request is refused. The record is written in the transaction
that creates the resource, so there is never a record without its resource."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from schemas.jsontext import dumps

from ..problems import Problem
from .models import IdempotencyRecord

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: dict


def request_hash(method: str, path: str, body: object) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None:
        raise Problem(400, "Idempotency-Key required",
                      "every creating POST takes an Idempotency-Key header",
                      errors=[{"field": "header:Idempotency-Key", "message": "required"}])
    if not KEY.match(key):
        raise Problem(400, "Invalid Idempotency-Key",
                      "the key is 1 to 255 visible ASCII characters",
                      errors=[{"field": "header:Idempotency-Key", "message": "invalid"}])
    return key


def lookup(session: Session, client_id: str, key: str, req_hash: str) -> StoredAnswer | None:
    record = session.get(IdempotencyRecord, (client_id, key))
    if record is None:
        return None
    if record.request_hash != req_hash:
        raise Problem(422, "Idempotency-Key reused",
                      "this Idempotency-Key was used with another request",
                      errors=[{"field": "header:Idempotency-Key",
                               "message": "already used with a different request"}])
    return StoredAnswer(record.status, json.loads(record.response))


def record(client_id: str, key: str, req_hash: str, status: int, body: dict,
           item_id: str | None, now: datetime) -> dict:
    """The row that stores the first answer, for the write path."""
    return {
        "client_id": client_id, "key": key, "request_hash": req_hash, "status": status,
        "response": dumps(body), "item_id": item_id,
        "created_at": now}
