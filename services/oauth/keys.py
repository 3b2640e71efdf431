"""The key ring: the active signing key and the public JWKS, cached from the database —
or, in production, from a file mounted from a Kubernetes Secret (VIGIE_SIGNING_KEYS_FILE),
so that private keys live in the secret store and never in the database.

Verification runs on the ASGI event loop, so it must never touch the database:
the ring is reloaded by a background thread and on explicit refresh.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from ..refresh import Periodic
from .models import SigningKey

ALG = "RS256"


def new_private_jwk() -> dict:
    key = RSAKey.generate_key(2048, parameters={"alg": ALG, "use": "sig"})
    data = key.as_dict(private=True)
    data["kid"] = key.thumbprint()
    return data


@dataclass(frozen=True)
class FileKey:
    """One entry of the keys file: a private JWK with its `state` (next, active, retired)
    and, once retired, `retired_at`."""

    kid: str
    private_jwk: str
    state: str
    retired_at: datetime | None


def read_keys_file(path: Path) -> list[FileKey]:
    entries = json.loads(path.read_text())["keys"]
    out = []
    for entry in entries:
        jwk = {k: v for k, v in entry.items() if k not in ("state", "retired_at")}
        if entry.get("state") not in ("next", "active", "retired") or "kid" not in jwk:
            raise ValueError(f"{path}: every key needs a kid and a state (next|active|retired)")
        retired = entry.get("retired_at")
        out.append(FileKey(jwk["kid"], json.dumps(jwk), entry["state"],
                           datetime.fromisoformat(retired) if retired else None))
    return out


def generate_key(session: Session, state: str = "active") -> SigningKey:
    data = new_private_jwk()
    kid = data["kid"]
    row = SigningKey(kid=kid, alg=ALG, private_jwk=json.dumps(data), state=state)
    session.add(row)
    session.flush()
    return row


def rotate(db: Database, publish_wait_seconds: float, on_change=lambda: None) -> dict:
    """Publish the next key, wait until every verifier (API processes, the broker) has
    it, then sign with it. The previous key stays published (retired) until the tokens
    it signed have expired."""
    with db.transaction() as session:
        upcoming = session.scalar(select(SigningKey).where(SigningKey.state == "next"))
        if upcoming is None:
            upcoming = generate_key(session, state="next")
        kid = upcoming.kid
    on_change()
    time.sleep(publish_wait_seconds)
    retired: list[str] = []
    with db.transaction() as session:
        for key in session.scalars(select(SigningKey).where(SigningKey.state == "active")):
            key.state, key.retired_at = "retired", utcnow()
            retired.append(key.kid)
        session.get(SigningKey, kid).state = "active"
    on_change()
    return {"active": kid, "retired": retired}


def ensure_key(session: Session) -> None:
    """Create the first active key if there is none (development set-up)."""
    if session.scalar(select(SigningKey).where(SigningKey.state == "active")) is None:
        generate_key(session)


def write_jwks_file(path: Path, jwks: dict) -> None:
    """Atomically publish the JWKS where a broker reads it (file: URL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(jwks))
    tmp.replace(path)


class KeyRing:
    def __init__(self, db: Database, keep_retired_seconds: int, reload_seconds: float = 10.0,
                 jwks_file: str = "", keys_file: str = ""):
        self._keys_file = keys_file
        self._db = db
        self._keep_retired = timedelta(seconds=keep_retired_seconds)
        self._lock = threading.Lock()
        self._signing: RSAKey | None = None
        self._public: dict[str, RSAKey] = {}
        self._jwks: dict = {"keys": []}
        self._imported: dict[str, tuple[RSAKey, RSAKey]] = {}
        self._refresh = Periodic("keyring", reload_seconds, self.reload)
        self._jwks_file = jwks_file

    def reload(self) -> None:
        cutoff = utcnow() - self._keep_retired
        if self._keys_file:
            rows = read_keys_file(Path(self._keys_file))
        else:
            with self._db.sessions() as session:
                rows = session.scalars(select(SigningKey)).all()
        signing = None
        public: dict[str, RSAKey] = {}
        for row in rows:
            if row.state == "retired" and (row.retired_at is None or row.retired_at < cutoff):
                continue
            # Importing a private key validates it (milliseconds of CPU): once per kid.
            if row.kid not in self._imported:
                key = RSAKey.import_key(json.loads(row.private_jwk))
                self._imported[row.kid] = (key, RSAKey.import_key(key.as_dict(private=False)))
            key, public[row.kid] = self._imported[row.kid]
            if row.state == "active":
                signing = key
        jwks = {"keys": [dict(k.as_dict(private=False), kid=kid, alg=ALG, use="sig")
                         for kid, k in sorted(public.items())]}
        with self._lock:
            changed = jwks != self._jwks
            self._signing, self._public, self._jwks = signing, public, jwks
        if changed and self._jwks_file:
            write_jwks_file(Path(self._jwks_file), jwks)

    def start(self) -> None:
        self._refresh.start()

    def stop(self) -> None:
        self._refresh.stop()

    def signing_set(self) -> KeySet:
        with self._lock:
            if self._signing is None:
                raise RuntimeError("no active signing key: run `vigie keys init`")
            return KeySet([self._signing])

    def public_key(self, kid: str) -> RSAKey | None:
        return self._public.get(kid)

    def jwks(self) -> dict:
        return self._jwks
