"""Registration (with SSRF checks), Standard Webhooks signatures, and the dead letters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import idna
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import utcnow
from ..feed.models import FeedItem
from ..problems import Problem, invalid
from ..sealed import SecretBox, Unsealable
from .models import Webhook, WebhookDelivery


class UnsafeURL(ValueError):
    """A URL the hub must not call (why, for the logs; the API says only REFUSED)."""


REFUSED = "must be an https URL of a host reachable on the internet"


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's host, as IDNA 2008 ASCII (for Host and TLS SNI),
    and the one address it resolved to and was checked — the connection goes there, so
    that the name is never resolved a second time (no DNS rebinding)."""

    url: str          # with the address in place of the host
    host: str         # the ASCII host name (Host header, SNI, certificate check)
    host_header: str  # host[:port] as the receiver expects it


def check_url(url: str, settings: Settings, resolve=socket.getaddrinfo,
              resolve_names: bool = True) -> Target | None:
    """HTTPS only (http where configuration allows), to a name that resolves only to
    public addresses unless configuration allows otherwise (no SSRF); every refusal
    raises UnsafeURL. Before every delivery the name is resolved and the address pinned;
    at registration (`resolve_names=False`) only the URL and a literal address are
    checked: resolving there would tell a caller which internal names exist."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("is not a valid URL") from None
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.webhook_allow_http):
        raise UnsafeURL("must be an https URL")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise UnsafeURL("must name a host, without credentials or fragment")
    try:  # the name httpx would use (IDNA 2008), not the resolver's own (IDNA 2003)
        host = (parts.hostname if _is_address(parts.hostname)
                else idna.encode(parts.hostname, uts46=True).decode())
    except idna.IDNAError:
        raise UnsafeURL("has an invalid host name") from None
    if not resolve_names and not _is_address(host):
        return None
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL("does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeURL("does not resolve")
    for address in addresses:
        if not settings.webhook_allow_private and not address.is_global:
            raise UnsafeURL("resolves to a loopback, private or link-local address")
    pinned = addresses[0]
    netloc = (f"[{pinned}]" if pinned.version == 6 else str(pinned)) + f":{port}"
    default = port == (443 if parts.scheme == "https" else 80)
    return Target(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host, host if default else f"{host}:{port}")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature: v1,base64(HMAC-SHA256(key, id.timestamp.body))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def register(session: Session, settings: Settings, org_id: str, url: str) -> tuple[Webhook, str]:
    try:
        check_url(url, settings, resolve_names=False)
    except UnsafeURL:
        # One answer for every refusal: the hub's network is not mapped through it.
        raise invalid([{"field": "url", "message": REFUSED}]) from None
    secret = new_secret()
    hook_id = str(uuid.uuid4())
    hook = Webhook(id=hook_id, org_id=org_id, url=url,
                   secret=SecretBox.from_settings(settings).seal(secret, hook_id))
    session.add(hook)
    session.flush()
    return hook, secret


def signing_secret(box: SecretBox, hook: Webhook) -> str:
    """The secret to sign with: sealed at rest, or in clear if stored before sealing."""
    if hook.secret.startswith("whsec_"):
        return hook.secret
    return box.open(hook.secret, hook.id)


def reseal(session: Session, box: SecretBox) -> dict[str, Any]:
    """Seal every secret under the active data key (those in clear from before sealing, or
    under an older key). Those no listed key opens are named, left as they are."""
    changed, unopenable = 0, []
    for hook in session.scalars(select(Webhook).order_by(Webhook.id)):
        if box.is_current(hook.secret):
            continue
        try:
            hook.secret = box.seal(signing_secret(box, hook), hook.id)
            changed += 1
        except Unsealable:
            unopenable.append(hook.id)
    return {"resealed": changed, "unopenable": unopenable}


def enqueue(session: Session, item: FeedItem) -> int:
    """A delivery per enabled endpoint of the recipient, in the feed's transaction."""
    hooks = session.scalars(select(Webhook).where(Webhook.org_id == item.org_id,
                                                  Webhook.enabled.is_(True))).all()
    session.add_all(WebhookDelivery(webhook_id=h.id, org_id=item.org_id, feed_seq=item.seq,
                                    message_id=item.message_id, next_attempt_at=utcnow())
                    for h in hooks)
    return len(hooks)


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Exponential, capped, with full jitter."""
    ceiling = min(settings.webhook_backoff_max_seconds,
                  settings.webhook_backoff_base_seconds * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def replay(session: Session, delivery_id: int, now: datetime) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise Problem(404, "Not Found", "no such dead letter")
    if delivery.status != "dead":
        raise Problem(409, "Conflict", f"the delivery is {delivery.status}, not dead",
                      kind="invalid-state")
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.replays += 1
    return delivery


def to_resource(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id, "webhook_id": delivery.webhook_id, "cursor": str(delivery.feed_seq),
        "message_id": delivery.message_id, "status": delivery.status,
        "attempts": delivery.attempts, "replays": delivery.replays,
        "next_attempt_at": delivery.next_attempt_at.isoformat()
        if delivery.status == "pending" else None,
        "last_status_code": delivery.last_status_code, "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }
