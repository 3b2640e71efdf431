"""Signing, listing, exporting and verifying evidence.

Each record is a compact JWS (RS256, `typ: vigie-evidence+jwt`, `kid` of a key in the
hub's JWKS) whose claims bind the item, the exchange, the step, the digests of the
message and of the step, the sender, the recipient and the time."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..exchanges.digests import digest
from ..exchanges.models import Item
from ..oauth.keys import ALG, KeyRing
from ..oauth.models import SigningKey
from ..oauth.tokens import decode_segment
from .models import Evidence

TYP = "vigie-evidence+jwt"
STEPS = ("submitted", "delivered", "retrieved", "rejected")


class Signer:
    """Signs evidence with the hub's active key (held by the process's key ring)."""

    def __init__(self, keys: KeyRing, issuer: str):
        self.keys = keys
        self.issuer = issuer

    def sign(self, session: Session, item: Item, step: str, at: datetime,
             step_digest: str | None = None, detail: str | None = None) -> Evidence:
        return record(session, self.keys, item, step, at, message_digest(item),
                      step_digest, self.issuer, detail)


def message_digest(item: Item) -> str:
    """The digest of the message as submitted (kept by an erasure)."""
    content = json.loads(item.content)
    return content["digest"] if content.get("redacted") else digest(content)


def record(session: Session, keys: KeyRing, item: Item, step: str, at: datetime,
           message_digest: str, step_digest: str | None = None, issuer: str = "",
           detail: str | None = None) -> Evidence:
    key = keys.signing_set().keys[0]
    claims: dict[str, Any] = {
        "iss": issuer, "jti": secrets.token_urlsafe(12), "iat": int(at.timestamp()),
        "item": item.id, "exchange": item.exchange, "step": step, "at": at.isoformat(),
        "message_digest": message_digest, "sender": item.sender_org,
        "recipient": item.recipient_org,
    }
    if step_digest:
        claims["step_digest"] = step_digest
    if detail:
        claims["detail"] = detail
    token = jwt.encode({"alg": ALG, "typ": TYP, "kid": key.kid}, claims, key)
    evidence = Evidence(item_id=item.id, step=step, at=at, jws=token)
    session.add(evidence)
    return evidence


def without_step(session: Session, item_ids: list[str], step: str) -> list[str]:
    """Those of the items that have no evidence of `step` yet (one query)."""
    done = set(session.scalars(select(Evidence.item_id).where(
        Evidence.item_id.in_(item_ids), Evidence.step == step)))
    return [i for i in dict.fromkeys(item_ids) if i not in done]


def claims_of(token: str) -> dict:
    """The claims, unverified (for display; verification is `verify_bundle`)."""
    return decode_segment(token.split(".")[1])


def listing(session: Session, item_id: str) -> list[dict]:
    rows = session.scalars(select(Evidence).where(Evidence.item_id == item_id)
                           .order_by(Evidence.id))
    return [{"step": e.step, "at": e.at.isoformat(), "claims": claims_of(e.jws), "jws": e.jws}
            for e in rows]


def export(session: Session, item_id: str) -> dict:
    """A self-contained bundle: the item's digest, its evidence and the public keys."""
    item = session.get(Item, item_id)
    if item is None:
        raise LookupError(f"no item {item_id!r}")
    evidences = [e["jws"] for e in listing(session, item_id)]
    kids = {decode_segment(e.split(".")[0])["kid"] for e in evidences}
    keys = []
    for row in session.scalars(select(SigningKey).where(SigningKey.kid.in_(kids))):
        public = RSAKey.import_key(json.loads(row.private_jwk)).as_dict(private=False)
        keys.append({**public, "kid": row.kid, "alg": ALG, "use": "sig"})
    digest = claims_of(evidences[0])["message_digest"] if evidences else None
    return {"format": "vigie-evidence-bundle/1", "item": item.id, "exchange": item.exchange,
            "message_digest": digest, "evidences": evidences, "jwks": {"keys": keys}}


def verify_bundle(bundle: dict) -> tuple[bool, list[str]]:
    """Check every signature with the bundled keys and that each record is about the
    bundle's item and message. Returns (all good, one line per record)."""
    try:
        keys = KeySet.import_key_set(bundle["jwks"])
    except (KeyError, ValueError, JoseError) as exc:
        return False, [f"unusable key set: {exc}"]
    lines, ok = [], bool(bundle.get("evidences"))
    if not ok:
        lines.append("no evidence in the bundle")
    for i, token in enumerate(bundle.get("evidences", [])):
        try:
            decoded = jwt.decode(token, keys, algorithms=[ALG])
            claims = decoded.claims
            if decoded.header.get("typ") != TYP:
                raise ValueError("not an evidence record")
            if claims["item"] != bundle["item"]:
                raise ValueError("about another item")
            if claims["step"] in ("submitted", "delivered", "retrieved") and \
                    claims["message_digest"] != bundle["message_digest"]:
                raise ValueError("binds another message")
            lines.append(f"{i + 1}. OK {claims['step']} at {claims['at']} "
                         f"({claims['sender']} → {claims['recipient']})")
        except (JoseError, ValueError, KeyError) as exc:
            ok = False
            lines.append(f"{i + 1}. FAILED: {exc}")
    return ok, lines
