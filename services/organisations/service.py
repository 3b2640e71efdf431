"""Creating organisations and clients; client secrets are stored hashed (scrypt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import (
    ORG_TYPES,
    Client,
    ClientAssertion,
    ClientKey,
    ClientSecret,
    Organisation,
    TrustedFlaggerStatus,
)
from .scopes import SCOPES_BY_TYPE

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Names an organisation or client may not take: the broker's principals (a client id is a
# Kafka principal; ANONYMOUS is the internal listener's super user) and the hub's own
# topic and group prefix (an organisation's groups are `<org>.*`).
RESERVED = frozenset({"anonymous", "vigie", "admin", "kafka", "broker", "hub", "root",
                      "system", "operator-hub"})
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
JURISDICTION = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
# Organisations that act for a jurisdiction: they must be registered with one.
JUDICIAL_TYPES = frozenset({"court", "prosecution"})


class OrganisationError(ValueError):
    """A request to create an organisation or client that cannot be honoured."""


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def _check_jurisdiction(org_type: str, code: str | None, name: str | None) -> None:
    if org_type in JUDICIAL_TYPES:
        if not code or not JURISDICTION.match(code):
            raise OrganisationError(f"a {org_type} needs its jurisdiction code "
                                    "(--jurisdiction, e.g. TJ-PARIS: uppercase letters, "
                                    "digits and hyphens)")
        if not (name or "").strip():
            raise OrganisationError(f"a {org_type} needs its jurisdiction's name "
                                    "(--jurisdiction-name, e.g. Tribunal judiciaire de Paris)")
    elif code or name:
        raise OrganisationError(f"a {org_type} has no jurisdiction")


def add_organisation(session: Session, org_id: str, org_type: str, name: str,
                     profession: str | None = None, legal_entity: str | None = None,
                     jurisdiction: str | None = None,
                     jurisdiction_name: str | None = None) -> Organisation:
    if not SLUG.match(org_id):
        raise OrganisationError(f"organisation id {org_id!r} is not a lowercase slug")
    if org_id in RESERVED or org_id.startswith("vigie"):
        raise OrganisationError(f"organisation id {org_id!r} is reserved")
    if org_type not in ORG_TYPES:
        raise OrganisationError(f"organisation type must be one of {', '.join(ORG_TYPES)}")
    if org_type == "court" and jurisdiction and not jurisdiction_name:
        jurisdiction_name = name  # a court is its jurisdiction
    if session.get(Organisation, org_id) is not None:
        raise OrganisationError(f"organisation {org_id!r} exists already")
    _check_jurisdiction(org_type, jurisdiction, jurisdiction_name)
    org = Organisation(id=org_id, type=org_type, name=name, profession=profession,
                       legal_entity=legal_entity, jurisdiction=jurisdiction,
                       jurisdiction_name=jurisdiction_name)
    session.add(org)
    session.flush()
    return org


def update_organisation(session: Session, org_id: str, name: str | None = None,
                        jurisdiction: str | None = None,
                     jurisdiction_name: str | None = None) -> Organisation:
    """Correct what the registry says of an organisation; what its senders may declare
    follows within the directory's refresh (seconds)."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise OrganisationError(f"no organisation {org_id!r}")
    if jurisdiction is not None or jurisdiction_name is not None:
        code = jurisdiction if jurisdiction is not None else org.jurisdiction
        named = jurisdiction_name if jurisdiction_name is not None else org.jurisdiction_name
        if org.type == "court" and code and not named:
            named = name or org.name
        _check_jurisdiction(org.type, code, named)
        org.jurisdiction, org.jurisdiction_name = code, named
    if name is not None:
        if not name.strip():
            raise OrganisationError("the name must not be empty")
        org.name = name
    session.flush()
    return org


FLAGGER_STATUSES = ("awarded", "suspended", "revoked")


def set_flagger_status(session: Session, org_id: str, status: str, areas: list[str],
                       effective_from: date, decision_reference: str,
                       known_areas: frozenset[str]) -> TrustedFlaggerStatus:
    """Record the Digital Services Coordinator's decision on a trusted flagger (DSA art.
    22): awarded for `areas` (content-notice categories), suspended or revoked, from a
    date. Earlier decisions stay in the history."""
    org = session.get(Organisation, org_id)
    if org is None or org.type != "trusted_flagger":
        raise OrganisationError(f"{org_id!r} is not a trusted_flagger organisation")
    if status not in FLAGGER_STATUSES:
        raise OrganisationError(f"status must be one of {', '.join(FLAGGER_STATUSES)}")
    unknown = sorted(set(areas) - known_areas)
    if unknown:
        raise OrganisationError(f"unknown areas {unknown}; use {', '.join(sorted(known_areas))}")
    if status == "awarded" and not areas:
        raise OrganisationError("an award names the areas it covers (--areas)")
    if not decision_reference.strip():
        raise OrganisationError("name the coordinator's decision (--decision)")
    row = TrustedFlaggerStatus(org_id=org_id, status=status, areas=" ".join(sorted(areas)),
                               effective_from=effective_from,
                               decision_reference=decision_reference)
    session.add(row)
    session.flush()
    return row


def add_client(session: Session, org_id: str, scopes: list[str] | None = None,
               client_id: str | None = None) -> tuple[Client, str]:
    """Create a client; returns it with its secret, which is never stored in clear."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise OrganisationError(f"no organisation {org_id!r}")
    allowed = SCOPES_BY_TYPE[org.type]
    wanted = set(scopes) if scopes else set(allowed)
    refused = wanted - allowed
    if refused:
        raise OrganisationError(
            f"a {org.type} cannot hold {', '.join(sorted(refused))}")
    client_id = client_id or f"{org_id}-{secrets.token_hex(4)}"
    if not SLUG.match(client_id) or not client_id.startswith(f"{org_id}-"):
        raise OrganisationError(f"client id {client_id!r} must be a lowercase slug starting "
                                f"with {org_id}-")
    if client_id in RESERVED:
        raise OrganisationError(f"client id {client_id!r} is reserved")
    if session.get(Client, client_id) is not None:
        raise OrganisationError(f"client {client_id!r} exists already")
    secret = secrets.token_urlsafe(32)
    client = Client(client_id=client_id, org_id=org_id, scopes=" ".join(sorted(wanted)),
                    secrets=[ClientSecret(secret_hash=hash_secret(secret))])
    session.add(client)
    session.flush()
    return client, secret


# Secrets valid at once: the one in use and the one replacing it.
MAX_SECRETS = 2


def rotate_secret(session: Session, client_id: str) -> str:
    """The operators' renewal: a new secret for an enabled client, every other one
    refused from now on (tokens already issued live out their 15 minutes)."""
    client = session.get(Client, client_id)
    if client is None or not client.enabled:
        raise OrganisationError(f"no enabled client {client_id!r}")
    secret = secrets.token_urlsafe(32)
    client.secrets = [ClientSecret(secret_hash=hash_secret(secret))]
    return secret


def add_secret(session: Session, client: Client) -> tuple[ClientSecret, str]:
    """A client's second secret, valid beside the first until it revokes one (rotation
    without downtime); a third is refused."""
    if len(client.secrets) >= MAX_SECRETS:
        raise OrganisationError(f"{MAX_SECRETS} secrets are valid already: revoke one first")
    secret = secrets.token_urlsafe(32)
    added = ClientSecret(secret_hash=hash_secret(secret))
    client.secrets.append(added)
    session.flush()
    return added, secret


def revoke_secret(session: Session, client: Client, secret_id: str) -> None:
    """Refuse one of the client's secrets from now; never its last credential (a client
    with a registered key may drop every secret)."""
    found = next((s for s in client.secrets if s.id == secret_id), None)
    if found is None:
        raise LookupError(secret_id)
    if len(client.secrets) == 1 and not client.keys:
        raise OrganisationError("the client's only secret: add its replacement first")
    client.secrets.remove(found)


MAX_KEYS = 2
# What a client may sign its assertions with: RSA of 2048 bits or more, EC P-256/P-384,
# Ed25519 (RFC 8037).
_CURVES = {"EC": {"P-256", "P-384"}, "OKP": {"Ed25519"}}
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class KeyRefused(ValueError):
    """A JWK the hub does not register, with every reason, by member."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']} {e['message']}" for e in errors))
        self.errors = errors


def public_key(jwk: object) -> Any:
    """The JWK as a key the hub accepts for signatures, or KeyRefused with each reason."""
    if not isinstance(jwk, dict):
        raise KeyRefused([{"field": "jwk", "message": "must be a JSON Web Key (an object)"}])
    errors = []
    if private := sorted(_PRIVATE_MEMBERS & set(jwk)):
        errors.append({"field": "jwk", "message": "is a private key (has "
                       f"{', '.join(private)}): send the public key only"})
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        errors.append({"field": "jwk.kty", "message": "must be RSA, EC or OKP"})
    elif kty in _CURVES and jwk.get("crv") not in _CURVES[kty]:
        errors.append({"field": "jwk.crv",
                       "message": f"must be one of {', '.join(sorted(_CURVES[kty]))}"})
    if jwk.get("use") not in (None, "sig"):
        errors.append({"field": "jwk.use", "message": "must be sig"})
    if errors:
        raise KeyRefused(errors)
    from joserfc.errors import JoseError
    from joserfc.jwk import import_key

    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError):
        raise KeyRefused([{"field": "jwk",
                           "message": "is not a valid public key of its type"}]) from None
    if kty == "RSA" and key.raw_value.key_size < 2048:
        raise KeyRefused([{"field": "jwk.n",
                           "message": "an RSA key must have 2048 bits at least"}])
    return key


def add_key(session: Session, client: Client, jwk: object) -> ClientKey:
    """Register a public key the client signs its token requests with; two at most
    (KeyRefused for a key the hub does not accept, OrganisationError for a third)."""
    key = public_key(jwk)
    if len(client.keys) >= MAX_KEYS:
        raise OrganisationError(f"{MAX_KEYS} keys are registered already: revoke one first")
    thumbprint = key.thumbprint()
    if any(k.thumbprint == thumbprint for k in client.keys):
        raise OrganisationError("this key is registered already")
    public = {**key.as_dict(private=False), "kid": thumbprint, "use": "sig"}
    added = ClientKey(jwk=json.dumps(public, sort_keys=True), thumbprint=thumbprint)
    client.keys.append(added)
    session.flush()
    return added


def revoke_key(session: Session, client: Client, key_id: str) -> None:
    """Refuse assertions signed with the key from now; never the client's last credential."""
    found = next((k for k in client.keys if k.id == key_id), None)
    if found is None:
        raise LookupError(key_id)
    if len(client.keys) == 1 and not client.secrets:
        raise OrganisationError("the client's only credential: register its replacement "
                                "first")
    client.keys.remove(found)


def remember_assertion(session: Session, client_id: str, jti: str,
                       expires_at: datetime) -> bool:
    """Record an assertion's id until it expires; False when it was presented before.
    Expired ids are forgotten on the way (their assertions are refused as expired). The
    same assertion presented at the same moment elsewhere fails the caller's commit on
    the primary key (IntegrityError): the caller refuses it too."""
    session.execute(delete(ClientAssertion).where(ClientAssertion.expires_at < utcnow()))
    if session.get(ClientAssertion, (client_id, jti)) is not None:
        return False
    session.add(ClientAssertion(client_id=client_id, jti=jti, expires_at=expires_at))
    return True


def disable_client(session: Session, client_id: str) -> Client:
    """Refuse the client from now: its token requests at once, its tokens on the API
    within seconds (the directory), its broker access with the next ACL sync."""
    client = session.get(Client, client_id)
    if client is None:
        raise OrganisationError(f"no client {client_id!r}")
    client.enabled = False
    return client


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.id)))
