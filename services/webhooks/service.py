"""Registration (with SSRF checks), Standard Webhooks signatures, and the dead letters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import idna
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import tracing
from ..config import Settings
from ..db import utcnow
from ..feed.models import FeedItem
from ..problems import Problem, invalid
from ..sealed import SecretBox, Unsealable
from .models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)
# The type of a test message (POST /v1/webhooks/{id}/ping); never a feed item's.
PING_TYPE = "fr.gouv.vigie.webhooks.ping"


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


def signatures(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per valid secret, space-separated
    (during a rotation's overlap, the new one and the previous one)."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


def deliver(http: httpx.Client, settings: Settings, url: str, secrets_: list[str],
            msg_id: str, body: bytes, cursor: str | None = None,
            resolve=socket.getaddrinfo) -> tuple[bool, int | None, str | None]:
    """One signed POST to a receiver: (delivered, status code, error). The URL is checked
    again (DNS may have changed) and the connection goes to the address checked."""
    if not secrets_:  # never sent unsigned
        return False, None, "the endpoint's secret cannot be opened with the data keys"
    try:
        target = check_url(url, settings, resolve)
        timestamp = int(time.time())
        headers = {"host": target.host_header, "content-type": "application/json",
                   "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": signatures(secrets_, msg_id, timestamp, body)}
        if cursor is not None:
            headers["vigie-cursor"] = cursor
        attributes = {"server.address": target.host, "vigie.webhook_id": msg_id}
        with tracing.span("deliver webhook", tracing.SpanKind.CLIENT,
                          parent=tracing.carried(body, "event"), **attributes) as current:
            if parent := tracing.traceparent():
                headers["traceparent"] = parent
            resp = http.post(target.url, content=body, headers=headers,
                             extensions={"sni_hostname": target.host})
            if current is not None:
                current.set_attribute("http.response.status_code", resp.status_code)
    except UnsafeURL as exc:
        # Recorded alike whatever the reason, so that deliveries do not map the hub's
        # network for the receiver's organisation; the log has the reason.
        log.info("webhook URL refused at delivery: %s", exc)
        return False, None, f"refused: {REFUSED}"
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    ok = 200 <= resp.status_code < 300
    return ok, resp.status_code, None if ok else f"HTTP {resp.status_code}"


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


def _opened(box: SecretBox, stored: str, hook_id: str) -> str:
    """A secret sealed at rest, or in clear if stored before sealing."""
    if stored.startswith("whsec_"):
        return stored
    return box.open(stored, hook_id)


def signing_secret(box: SecretBox, hook: Webhook) -> str:
    """The secret to sign with."""
    return _opened(box, hook.secret, hook.id)


def signing_secrets(box: SecretBox, hook: Webhook, now: datetime) -> list[str]:
    """Every secret that signs now: the current one, and the previous one during the
    overlap that follows a rotation."""
    out = [signing_secret(box, hook)]
    if hook.previous_secret and hook.previous_until and hook.previous_until > now:
        out.append(_opened(box, hook.previous_secret, hook.id))
    return out


def rotate(session: Session, settings: Settings, hook: Webhook,
           now: datetime) -> tuple[str, datetime]:
    """A new signing secret; the current one keeps signing beside it for the overlap
    (`VIGIE_WEBHOOK_SECRET_OVERLAP`), so the receiver switches without a gap."""
    secret = new_secret()
    until = now + timedelta(seconds=settings.webhook_secret_overlap_seconds)
    hook.previous_secret, hook.previous_until = hook.secret, until
    hook.secret = SecretBox.from_settings(settings).seal(secret, hook.id)
    session.flush()
    return secret, until


def ping(box: SecretBox, http: httpx.Client, settings: Settings, hook: Webhook,
         now: datetime, resolve=socket.getaddrinfo) -> dict[str, Any]:
    """A signed test message to the endpoint, at once (not a feed item: nothing is
    recorded in the feed); what the receiver answered."""
    message_id = str(uuid.uuid4())
    body = json.dumps({"type": PING_TYPE, "id": message_id, "time": now.isoformat(),
                       "webhook_id": hook.id}, separators=(",", ":")).encode()
    try:
        secrets_ = signing_secrets(box, hook, now)
    except Unsealable:
        secrets_ = []
    ok, status, error = deliver(http, settings, hook.url, secrets_, message_id, body,
                                resolve=resolve)
    return {"id": message_id, "delivered": ok, "status_code": status, "error": error}


def reseal(session: Session, box: SecretBox) -> dict[str, Any]:
    """Seal every secret under the active data key (those in clear from before sealing, or
    under an older key). Those no listed key opens are named, left as they are."""
    changed, unopenable = 0, []
    for hook in session.scalars(select(Webhook).order_by(Webhook.id)):
        stale = [name for name in ("secret", "previous_secret")
                 if getattr(hook, name) and not box.is_current(getattr(hook, name))]
        if not stale:
            continue
        try:
            for name in stale:
                setattr(hook, name, box.seal(_opened(box, getattr(hook, name), hook.id),
                                             hook.id))
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


def replay(session: Session, delivery_id: int, now: datetime,
           org_id: str | None = None) -> WebhookDelivery:
    """A dead letter delivered again, once: by an operator, or by its recipient
    (`org_id`: another organisation's is unknown to it)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or (org_id is not None and delivery.org_id != org_id):
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

