"""The webhook dispatcher: due deliveries are claimed, POSTed in a pool of workers (a slow
or dead receiver holds one worker for at most the timeout, never the others), retried
with exponential backoff and jitter, and parked as dead letters after the last try."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from services.config import Settings
from services.db import Database, utcnow
from services.feed.models import FeedItem
from services.metrics import DELIVERIES, WEBHOOK_ATTEMPTS
from services.sealed import SecretBox, Unsealable
from services.webhooks.models import Webhook, WebhookDelivery
from services.webhooks.service import backoff, deliver, signing_secrets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    url: str
    secrets: tuple[str, ...]     # every secret that signs now (two during an overlap)
    message_id: str
    cursor: str
    body: bytes
    attempts: int


class WebhookDispatcher:
    def __init__(self, db: Database, settings: Settings, workers: int = 8,
                 resolve=socket.getaddrinfo, http: httpx.Client | None = None):
        self.db = db
        self.settings = settings
        self.workers = workers
        self.resolve = resolve
        self._in_flight = threading.Semaphore(workers)
        self.box = SecretBox.from_settings(settings)
        # Redirects are not followed: a receiver cannot send the hub elsewhere.
        self._http = http or httpx.Client(timeout=settings.webhook_timeout_seconds,
                                          follow_redirects=False)

    def claim(self, limit: int) -> list[Claimed]:
        """Take due deliveries, leasing them so no other dispatcher takes them too."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        with self.db.transaction() as session:
            query = (select(WebhookDelivery, Webhook, FeedItem)
                     .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                     .join(FeedItem, (FeedItem.org_id == WebhookDelivery.org_id)
                           & (FeedItem.seq == WebhookDelivery.feed_seq))
                     .where(WebhookDelivery.status == "pending", Webhook.enabled.is_(True),
                            WebhookDelivery.next_attempt_at <= now)
                     .order_by(WebhookDelivery.next_attempt_at).limit(limit))
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
            claimed = []
            for delivery, hook, item in session.execute(query):
                delivery.next_attempt_at = lease
                try:
                    secrets = tuple(signing_secrets(self.box, hook, now))
                except Unsealable as exc:
                    log.error("webhook %s: its secret cannot be opened (%s)", hook.id, exc)
                    secrets = ()
                claimed.append(Claimed(delivery.id, hook.url, secrets, delivery.message_id,
                                       str(item.seq), item.envelope.encode(),
                                       delivery.attempts))
        return claimed

    def post(self, job: Claimed) -> tuple[bool, int | None, str | None]:
        """One POST: (delivered, status code, error)."""
        return deliver(self._http, self.settings, job.url, list(job.secrets),
                       job.message_id, job.body, job.cursor, self.resolve)

    def attempt(self, job: Claimed) -> str:
        """One POST; records the outcome and returns it."""
        ok, status_code, error = self.post(job)
        attempts = job.attempts + 1
        now = utcnow()
        outcome = "delivered" if ok else (
            "dead" if attempts >= self.settings.webhook_max_attempts else "retry")
        with self.db.transaction() as session:
            delivery = session.get(WebhookDelivery, job.delivery_id)
            delivery.attempts, delivery.last_status_code = attempts, status_code
            delivery.last_error = error
            if outcome == "delivered":
                delivery.status, delivery.delivered_at = "delivered", now
            elif outcome == "dead":
                delivery.status = "dead"
            else:
                delivery.next_attempt_at = now + backoff(attempts, self.settings)
        WEBHOOK_ATTEMPTS.labels(outcome).inc()
        if outcome != "retry":
            DELIVERIES.labels("webhook", outcome).inc()
        return outcome

    def _run_one(self, job: Claimed) -> None:
        try:
            self.attempt(job)
        except Exception:
            log.exception("webhook delivery %s failed", job.delivery_id)
        finally:
            self._in_flight.release()

    def run(self, stop: threading.Event) -> None:
        """Dispatch until stopped; a database outage is waited out, never fatal (leased
        deliveries come back when their lease ends)."""
        backoff_s = 0.5
        with ThreadPoolExecutor(self.workers, thread_name_prefix="webhook") as pool:
            while not stop.is_set():
                free = 0
                while self._in_flight.acquire(blocking=False):
                    free += 1
                try:
                    jobs = self.claim(free) if free else []
                except (OperationalError, InterfaceError) as exc:
                    for _ in range(free):
                        self._in_flight.release()
                    log.warning("webhooks: database unavailable (%s); retrying in %.1fs",
                                str(exc).splitlines()[0][:200], backoff_s)
                    stop.wait(backoff_s)
                    backoff_s = min(backoff_s * 2, 10.0)
                    continue
                backoff_s = 0.5
                for _ in range(free - len(jobs)):
                    self._in_flight.release()
                for job in jobs:
                    pool.submit(self._run_one, job)
                if not jobs:
                    stop.wait(0.1)
        self._http.close()


