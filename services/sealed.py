"""Secrets the hub must keep usable (a webhook's signing secret: the hub signs with it) are
sealed at rest with AES-256-GCM under a data key kept outside the database, so that a copy
of the database alone does not reveal them. Each sealed value is bound to what it belongs
to (its row's id), so that one cannot be moved to another row.

Keys come from VIGIE_DATA_KEYS_FILE (a mounted secret, production) or, in development,
from a file generated at first use in the state directory (0600). The file lists every
key by id and names the active one: the active key seals, any listed key opens, so that a
new key can be made active first and old values resealed later (`vigie data-keys reseal`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .config import Settings

PREFIX = "sealed:v1:"
FORMAT = "vigie-data-keys/1"


class Unsealable(ValueError):
    """A sealed value this hub cannot open: unknown key, another row's, or altered."""


def new_keys_file() -> dict:
    """The content of a fresh keys file (one active key)."""
    kid = secrets.token_hex(4)
    return {"format": FORMAT, "active": kid,
            "keys": {kid: base64.b64encode(AESGCM.generate_key(256)).decode()}}


def add_key(data: dict) -> dict:
    """`data` with a new key, made active; the others still open what they sealed."""
    fresh = new_keys_file()
    return {"format": FORMAT, "active": fresh["active"],
            "keys": {**data["keys"], **fresh["keys"]}}


class SecretBox:
    def __init__(self, keys: dict[str, bytes], active: str):
        if active not in keys:
            raise ValueError(f"the active data key {active!r} is not listed")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @classmethod
    def load(cls, data: dict) -> SecretBox:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a data keys file of the format {FORMAT}")
        return cls({kid: base64.b64decode(k) for kid, k in data["keys"].items()},
                   data["active"])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """From the mounted secret, or the development file (created once, 0600)."""
        if settings.data_keys_file:
            return cls.load(json.loads(Path(settings.data_keys_file).read_text()))
        path = settings.state_dir / "data-keys.json"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it meanwhile
            else:
                with os.fdopen(fd, "w") as out:
                    json.dump(new_keys_file(), out)
        return cls.load(json.loads(path.read_text()))

    def seal(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead[self.active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{self.active}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, value: str, context: str) -> str:
        if not value.startswith(PREFIX):
            raise Unsealable("not a sealed value")
        kid, _, blob = value.removeprefix(PREFIX).partition(":")
        aead = self._aead.get(kid)
        if aead is None:
            raise Unsealable(f"sealed with data key {kid!r}, which is not listed")
        try:
            raw = base64.urlsafe_b64decode(blob)
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise Unsealable("altered, or sealed for something else") from exc

    def is_current(self, value: str) -> bool:
        return value.startswith(f"{PREFIX}{self.active}:")
