"""The agents' registry: who may use the console, for which organisation, with which
roles; and the demo agents `vigie setup --demo` registers (with the local identity
provider's accounts, written to `.vigie/dev-agents.json`)."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..organisations.models import Organisation
from .models import ROLES, Agent

# Stable subjects for the demo accounts: the same user in the IdP and in the registry.
_DEMO_NAMESPACE = uuid.UUID("5b0f7d2e-3c1a-4f7e-9a55-0e8f2d6c4b11")
# (username, organisation, display name, roles) — a signatory, a drafter who cannot sign,
# a reader, the operators' administrator, and one agent per other demo organisation.
DEMO_AGENTS = [
    ("analyste.miviludes", "miviludes", "Camille Analyste", "reader drafter signatory"),
    ("redacteur.miviludes", "miviludes", "Dominique Rédacteur", "reader drafter"),
    ("lecteur.miviludes", "miviludes", "Lou Lecteur", "reader"),
    ("admin.miviludes", "miviludes", "Alix Administrateur", "reader administrator"),
    ("analyste.dgs", "dgs", "Sacha Santé", "reader drafter signatory"),
    ("greffe.tj-paris", "tj-paris", "Jeanne Greffière", "reader drafter signatory"),
    ("greffe.tj-lyon", "tj-lyon", "Paul Greffier", "reader drafter signatory"),
    ("parquet.pr-paris", "pr-paris", "Nadia Substitut", "reader drafter signatory"),
    ("parquet.pr-marseille", "pr-marseille", "Marc Substitut", "reader drafter signatory"),
    ("ordre.cnom", "cnom", "Hélène Juriste", "reader drafter signatory"),
    ("ordre.cnoi", "cnoi", "Karim Juriste", "reader drafter signatory"),
    ("ordre.cnop", "cnop", "Inès Juriste", "reader drafter signatory"),
    ("moderation.alpha", "plateforme-alpha", "Alex Modération", "reader drafter signatory"),
    ("moderation.beta", "plateforme-beta", "Sam Modération", "reader drafter signatory"),
    ("analyste.arcom", "arcom", "Claire Régulation", "reader"),
    ("signalement.alpha", "vigilance-alpha", "Léa Bénévole", "reader drafter signatory"),
    ("signalement.beta", "vigilance-beta", "Tom Bénévole", "reader drafter signatory"),
    ("benevole.entraide", "asso-entraide-sud", "Rémi Bénévole", "reader drafter signatory"),
    ("referent.ars", "ars-paca", "Nora Référente", "reader drafter signatory"),
    ("operateur", "exploitation", "Olivier Opérateur", "reader administrator"),
]


def demo_sub(username: str) -> str:
    return str(uuid.uuid5(_DEMO_NAMESPACE, username))


def register(session: Session, sub: str, org_id: str, username: str, name: str,
             roles: str, email: str | None = None) -> Agent:
    unknown = set(roles.split()) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    if session.get(Organisation, org_id) is None:
        raise ValueError(f"no organisation {org_id!r}")
    agent = session.get(Agent, sub)
    if agent is None:
        agent = Agent(sub=sub, org_id=org_id, username=username, name=name, email=email,
                      roles=roles, notify=False, created_at=utcnow())
        session.add(agent)
    else:
        agent.org_id, agent.username, agent.name, agent.roles = org_id, username, name, roles
        agent.email = email or agent.email
    session.flush()
    return agent


def active(session: Session, sub: str) -> Agent | None:
    agent = session.get(Agent, sub)
    return agent if agent is not None and agent.disabled_at is None else None


def of_organisation(session: Session, org_id: str) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.org_id == org_id)
                                .order_by(Agent.username)))


def demo_accounts(org_ids: set[str] | None = None) -> list[dict]:
    """The demo agents' accounts — passwords and, for signatories, the TOTP secret their
    second factor is computed from — for the organisations present."""
    out = []
    for username, org_id, name, roles in DEMO_AGENTS:
        if org_ids is not None and org_id not in org_ids:
            continue
        account = {"org_id": org_id, "username": username,
                   "password": secrets.token_urlsafe(12), "roles": roles.split(),
                   "sub": demo_sub(username), "name": name,
                   "email": f"{username}@demo.vigie.invalid"}
        if "signatory" in account["roles"]:
            # Keycloak keeps an OTP secret as text and uses its bytes as the HMAC key.
            account["totp_secret"] = secrets.token_hex(10)
        out.append(account)
    return out


def register_accounts(session: Session, accounts: list[dict]) -> None:
    for a in accounts:
        register(session, a["sub"], a["org_id"], a["username"], a["name"],
                 " ".join(a["roles"]), a.get("email"))


def seed_demo(session: Session, agents_file: Path) -> list[dict]:
    """Register the demo agents (once) and write their accounts, readable by the owner
    only; the identity provider's realm is built from this file."""
    if agents_file.exists():
        existing = json.loads(agents_file.read_text())
        if existing and all(session.get(Agent, a["sub"]) for a in existing):
            return existing
    present = set(session.scalars(select(Organisation.id)))
    accounts = demo_accounts(present)
    register_accounts(session, accounts)
    write_private(agents_file, json.dumps(accounts, indent=2, ensure_ascii=False))
    return accounts


def write_private(path: Path, text: str) -> None:
    """A secret file, readable by the owner only from its first byte."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def ensure_secret(path: Path) -> str:
    """A generated development secret (the OIDC client's, the session key), kept."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()
