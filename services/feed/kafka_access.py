"""Kafka access for recipients: each client holding `feed:read` may READ its
organisation's topic and use consumer groups prefixed `<org>.` — nothing else. ACLs are
granted to the client's principal (`User:<client_id>`, the token's `sub`)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..messaging.kafka_client import client_config
from ..messaging.topics import feed_topic
from ..organisations.models import Client


def group_prefix(org_id: str) -> str:
    return f"{org_id}."


def _acls(settings: Settings, client_id: str, org_id: str) -> list[ACL]:
    principal = f"User:{client_id}"
    resources = [
        ResourcePattern(ResourceType.TOPIC, feed_topic(settings, org_id),
                        ACLResourcePatternType.LITERAL),
        ResourcePattern(ResourceType.GROUP, group_prefix(org_id),
                        ACLResourcePatternType.PREFIXED),
    ]
    return [ACL(principal, "*", ACLOperation.READ, ACLPermissionType.ALLOW, r)
            for r in resources]


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**client_config(settings), client_id="vigie-acls",
                            request_timeout_ms=15000)


def _revoke_filter(client_id: str) -> ACLFilter:
    return ACLFilter(f"User:{client_id}", "*", ACLOperation.ANY, ACLPermissionType.ANY,
                     ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))


def sync(session: Session, settings: Settings, client_ids: list[str] | None = None) -> dict:
    """Make the broker's ACLs match the clients: granted for enabled clients holding
    `feed:read`, removed for the others. Returns what was granted and revoked."""
    query = select(Client)
    if client_ids is not None:
        query = query.where(Client.client_id.in_(client_ids))
    clients = list(session.scalars(query))
    grant = [c for c in clients if c.enabled and "feed:read" in c.scope_set]
    revoke = [c for c in clients if c not in grant]
    admin = _admin(settings)
    try:
        if revoke:
            admin.delete_acls([_revoke_filter(c.client_id) for c in revoke])
        acls = [acl for c in grant for acl in _acls(settings, c.client_id, c.org_id)]
        if acls:
            result = admin.create_acls(acls)
            failed = result.get("failed") if isinstance(result, dict) else None
            if failed:
                raise RuntimeError(f"the broker refused ACLs: {failed}")
    finally:
        admin.close()
    return {"granted": sorted(c.client_id for c in grant),
            "revoked": sorted(c.client_id for c in revoke)}


def connection_info(settings: Settings, org_id: str) -> dict:
    return {
        "bootstrap_servers": settings.kafka_external_bootstrap,
        "security_protocol": settings.kafka_external_protocol,
        "sasl_mechanism": "OAUTHBEARER",
        "topic": feed_topic(settings, org_id),
        "group_prefix": group_prefix(org_id),
        "token_endpoint": f"{settings.public_url}/oauth/token",
        "audience": settings.kafka_audience,
        "scope": "feed:read",
    }
