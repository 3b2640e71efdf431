"""Sealing, listing, exporting and verifying evidence.

A record's claims bind the item, the exchange, the step, the digests of the message and
of the step, the sender, the recipient and the time. The records a group commits are
the leaves of one Merkle tree (RFC 9162 hashing); the hub signs its root once (RS256,
`typ: vigie-evidence-batch+jwt`, `kid` of a key in its JWKS), and each record keeps its
inclusion proof: one signature per group instead of one per record, and every record
still verifiable on its own, offline."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..oauth.keys import ALG, KeyRing
from ..oauth.models import SigningKey
from ..oauth.tokens import decode_segment
from . import merkle
from .models import Evidence, EvidenceBatch

TYP = "vigie-evidence+jwt"             # a record signed on its own (first design)
BATCH_TYP = "vigie-evidence-batch+jwt"  # the signed root of a group of records
STEPS = ("submitted", "delivered", "retrieved", "rejected")
ONCE_STEPS = ("retrieved",)             # recorded at most once per item
BUNDLE_FORMAT = "vigie-evidence-bundle/2"


def make_claims(issuer: str, item_id: str, exchange: str, sender: str, recipient: str,
                step: str, at: datetime, message_digest: str,
                step_digest: str | None = None, detail: str | None = None) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer, "jti": secrets.token_urlsafe(12), "iat": int(at.timestamp()),
        "item": item_id, "exchange": exchange, "step": step, "at": at.isoformat(),
        "message_digest": message_digest, "sender": sender, "recipient": recipient,
    }
    if step_digest:
        claims["step_digest"] = step_digest
    if detail:
        claims["detail"] = detail
    return claims


def canonical(claims: dict[str, Any]) -> bytes:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


@dataclass(frozen=True)
class Sealed:
    row: dict[str, Any]              # the evidence_batches row
    records: list[dict[str, Any]]    # the evidence rows


class Signer:
    """Seals groups of evidence with the hub's active key (held by the process's ring)."""

    def __init__(self, keys: KeyRing, issuer: str):
        self.keys = keys
        self.issuer = issuer

    def seal(self, claims: list[dict[str, Any]], at: datetime) -> Sealed:
        texts = [canonical(c) for c in claims]
        root, paths = merkle.proofs([merkle.leaf_hash(t) for t in texts])
        batch_id = str(uuid.uuid4())
        key = self.keys.signing_set().keys[0]
        token = jwt.encode({"alg": ALG, "typ": BATCH_TYP, "kid": key.kid},
                           {"iss": self.issuer, "batch": batch_id, "size": len(claims),
                            "root": _b64(root), "iat": int(at.timestamp()),
                            "at": at.isoformat()}, key)
        records = [{"item_id": c["item"], "step": c["step"],
                    "at": datetime.fromisoformat(c["at"]), "jws": None,
                    "claims": t.decode(), "batch_id": batch_id, "leaf_index": i,
                    "proof": json.dumps([_b64(h) for h in path])}
                   for i, (c, t, path) in enumerate(zip(claims, texts, paths, strict=True))]
        return Sealed({"id": batch_id, "size": len(claims), "root": _b64(root), "jws": token,
                       "created_at": at}, records)


def without_step(session: Session, item_ids: list[str], step: str) -> list[str]:
    """Those of the items that have no evidence of `step` yet (one query)."""
    done = set(session.scalars(select(Evidence.item_id).where(
        Evidence.item_id.in_(item_ids), Evidence.step == step)))
    return [i for i in dict.fromkeys(item_ids) if i not in done]


def claims_of(token: str) -> dict:
    """The claims of a compact JWS, unverified (for display; see `verify_record`)."""
    return decode_segment(token.split(".")[1])


def listing(session: Session, item_id: str) -> list[dict]:
    """An item's records, oldest first, each with what verifies it on its own."""
    rows = session.execute(
        select(Evidence, EvidenceBatch.jws, EvidenceBatch.size)
        .outerjoin(EvidenceBatch, EvidenceBatch.id == Evidence.batch_id)
        .where(Evidence.item_id == item_id).order_by(Evidence.id)).all()
    out = []
    for e, batch_jws, size in rows:
        if e.batch_id is None:
            out.append({"step": e.step, "at": e.at.isoformat(), "claims": claims_of(e.jws),
                        "jws": e.jws})
            continue
        out.append({"step": e.step, "at": e.at.isoformat(), "claims": json.loads(e.claims),
                    "jws": batch_jws,
                    "proof": {"leaf_index": e.leaf_index, "tree_size": size,
                              "hashes": json.loads(e.proof)}})
    return out


def verify_record(record: dict, keys: KeySet) -> dict:
    """The record's claims once its signature (and, for a sealed record, its inclusion in
    the signed root) hold; raises ValueError or JoseError otherwise."""
    if "proof" not in record:  # a record signed on its own
        decoded = jwt.decode(record["jws"], keys, algorithms=[ALG])
        if decoded.header.get("typ") != TYP:
            raise ValueError("not an evidence record")
        return dict(decoded.claims)
    decoded = jws.deserialize_compact(record["jws"], keys, algorithms=[ALG])
    if decoded.headers().get("typ") != BATCH_TYP:
        raise ValueError("not a sealed evidence batch")
    head = json.loads(decoded.payload)
    proof = record["proof"]
    claims = record["claims"]
    if proof["tree_size"] != head["size"]:
        raise ValueError("the proof is for another tree")
    leaf = merkle.leaf_hash(canonical(claims))
    root = merkle.root_from_proof(proof["leaf_index"], proof["tree_size"], leaf,
                                  [_unb64(h) for h in proof["hashes"]])
    if root is None or _b64(root) != head["root"]:
        raise ValueError("the claims are not those the hub signed")
    return dict(claims)


def export(session: Session, item_id: str) -> dict:
    """A self-contained bundle: the item's digest, its evidence and the public keys."""
    from ..exchanges.models import Item

    item = session.get(Item, item_id)
    if item is None:
        raise LookupError(f"no item {item_id!r}")
    records = listing(session, item_id)
    kids = {decode_segment(r["jws"].split(".")[0])["kid"] for r in records}
    keys = []
    for row in session.scalars(select(SigningKey).where(SigningKey.kid.in_(kids))):
        public = RSAKey.import_key(json.loads(row.private_jwk)).as_dict(private=False)
        keys.append({**public, "kid": row.kid, "alg": ALG, "use": "sig"})
    digest = records[0]["claims"]["message_digest"] if records else None
    return {"format": BUNDLE_FORMAT, "item": item.id, "exchange": item.exchange,
            "message_digest": digest,
            "evidences": [{k: r[k] for k in ("claims", "jws", "proof") if k in r}
                          for r in records],
            "jwks": {"keys": keys}}


def verify_bundle(bundle: dict) -> tuple[bool, list[str]]:
    """Check every record against the bundled keys and that each is about the bundle's
    item and message. Returns (all good, one line per record)."""
    try:
        keys = KeySet.import_key_set(bundle["jwks"])
    except (KeyError, ValueError, JoseError) as exc:
        return False, [f"unusable key set: {exc}"]
    lines, ok = [], bool(bundle.get("evidences"))
    if not ok:
        lines.append("no evidence in the bundle")
    for i, record in enumerate(bundle.get("evidences", [])):
        try:
            if isinstance(record, str):  # a bundle of the first format
                record = {"jws": record}
            claims = verify_record(record, keys)
            if claims["item"] != bundle["item"]:
                raise ValueError("about another item")
            if claims["step"] in ("submitted", "delivered", "retrieved") and \
                    claims["message_digest"] != bundle["message_digest"]:
                raise ValueError("binds another message")
            lines.append(f"{i + 1}. OK {claims['step']} at {claims['at']} "
                         f"({claims['sender']} → {claims['recipient']})")
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            ok = False
            lines.append(f"{i + 1}. FAILED: {exc}")
    return ok, lines
