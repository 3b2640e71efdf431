"""The checkpoint keys (Ed25519), never the access-token key: in the database for
development and tests, from a mounted secret in production (VIGIE_LOG_KEYS_FILE). Their
public halves are archived forever in `log_keys` with the window in which each may sign,
and published as the key set parties pin (`/.well-known/vigie-log-keys.json`)."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from ..refresh import Periodic
from .models import LogKey, LogSigningKey
from .verifier import KEYS_FORMAT, KeySet, b64, fingerprint, key_id

# A rotated-out key may still sign this long (processes pick the new key up within
# RELOAD_SECONDS), so that no checkpoint is ever signed outside its key's window.
RELOAD_SECONDS = 5.0
ROTATION_OVERLAP = timedelta(seconds=30)


def public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey
    key_id: bytes
    valid_from: datetime
    valid_until: datetime | None

    @property
    def public_key(self) -> bytes:
        return public_bytes(self.private)

    def can_sign(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)

    def sign(self, text: str) -> str:
        """The signed note: the text, a blank line, one signature line."""
        signature = self.private.sign(text.encode())
        return f"{text}\n— {self.name} {b64(self.key_id + signature)}\n"


def _key(name: str, seed_b64: str, valid_from: datetime, valid_until: datetime | None):
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))
    return SigningKey(name, private, key_id(name, public_bytes(private)), valid_from,
                      valid_until)


def new_seed() -> str:
    return b64(Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def read_keys_file(path: Path, name: str) -> list[SigningKey]:
    """`{"keys": [{"private_key": base64 seed, "valid_from": ..., "valid_until": ...}]}`."""
    out = []
    for entry in json.loads(path.read_text())["keys"]:
        valid_from = _when(entry.get("valid_from"))
        if valid_from is None or not entry.get("private_key"):
            raise ValueError(f"{path}: every log key needs private_key and valid_from")
        out.append(_key(name, entry["private_key"], valid_from, _when(entry.get("valid_until"))))
    return out


class LogKeys:
    """The keys this process may sign checkpoints with, reloaded in the background."""

    def __init__(self, db: Database, name: str, keys_file: str = ""):
        self.db = db
        self.name = name
        self.keys_file = keys_file
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()
        self._refresh = Periodic("log-keys", RELOAD_SECONDS, self.reload)

    def reload(self) -> None:
        if self.keys_file:
            keys = read_keys_file(Path(self.keys_file), self.name)
        else:
            with self.db.sessions() as session:
                keys = [_key(self.name, row.private_key, row.valid_from, row.valid_until)
                        for row in session.scalars(select(LogSigningKey))]
        with self._lock:
            self._keys = keys

    def start(self) -> None:
        self._refresh.start()
        if self.keys_file:
            with self.db.transaction() as session:
                archive(session, self._keys)

    def stop(self) -> None:
        self._refresh.stop()

    def signing(self, at: datetime) -> SigningKey:
        """The newest key whose window holds `at`."""
        with self._lock:
            usable = [k for k in self._keys if k.can_sign(at)]
        if not usable:
            raise RuntimeError("no checkpoint key may sign now: run `vigie log init` "
                               "(or set VIGIE_LOG_KEYS_FILE)")
        return max(usable, key=lambda k: k.valid_from)

    def trusted(self, issuer: str) -> KeySet:
        """The keys this hub holds as a verifier's key set: what the hub's own checks
        (its witness, `vigie audit verify` without --keys) trust."""
        with self._lock:
            keys = list(self._keys)
        return KeySet(public_key_set(keys, self.name, issuer))


def archive(session: Session, keys: list[SigningKey]) -> None:
    """Record the public half of each key (and the end of its window once known)."""
    known = {k.key_id: k for k in session.scalars(select(LogKey))}
    for key in keys:
        kid = key.key_id.hex()
        row = known.get(kid)
        if row is None:
            session.add(LogKey(key_id=kid, name=key.name, public_key=b64(key.public_key),
                               valid_from=key.valid_from, valid_until=key.valid_until))
        elif row.valid_until != key.valid_until and key.valid_until is not None:
            row.valid_until = key.valid_until


def ensure_key(session: Session, name: str) -> None:
    """The first database key, for development set-ups."""
    if session.scalar(select(LogSigningKey).where(LogSigningKey.state == "active")) is None:
        _add(session, name, utcnow())


def _add(session: Session, name: str, valid_from: datetime) -> SigningKey:
    seed = new_seed()
    key = _key(name, seed, valid_from, None)
    session.add(LogSigningKey(key_id=key.key_id.hex(), private_key=seed, state="active",
                              valid_from=valid_from, valid_until=None))
    archive(session, [key])
    return key


def rotate(session: Session, name: str) -> dict:
    """A new database key signs from now; the previous ones may sign for the overlap
    (processes reload within it), then never again."""
    now = utcnow()
    retired = []
    for row in session.scalars(select(LogSigningKey).where(LogSigningKey.state == "active")):
        row.state, row.valid_until = "retired", now + ROTATION_OVERLAP
        retired.append(_key(name, row.private_key, row.valid_from, row.valid_until))
    session.flush()
    archive(session, retired)
    key = _add(session, name, now)
    return {"active": key.key_id.hex(), "retired": [k.key_id.hex() for k in retired]}


def _entry(name: str, kid: str, public_key: bytes, valid_from: datetime,
           valid_until: datetime | None) -> dict:
    return {"name": name, "key_id": kid, "public_key": b64(public_key),
            "fingerprint": fingerprint(public_key), "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None}


def key_set(session: Session, origin: str, issuer: str) -> dict:
    """The document parties pin (vigie-log-keys/1): every key that ever signed."""
    rows = session.scalars(select(LogKey).order_by(LogKey.valid_from)).all()
    return {"format": KEYS_FORMAT, "origin": origin, "issuer": issuer,
            "keys": [_entry(r.name, r.key_id, base64.b64decode(r.public_key), r.valid_from,
                            r.valid_until) for r in rows]}


def public_key_set(keys: list[SigningKey], origin: str, issuer: str) -> dict:
    """The same document from keys held (a secret, the database), not from the archive."""
    return {"format": KEYS_FORMAT, "origin": origin, "issuer": issuer,
            "keys": [_entry(k.name, k.key_id.hex(), k.public_key, k.valid_from, k.valid_until)
                     for k in sorted(keys, key=lambda k: k.valid_from)]}
