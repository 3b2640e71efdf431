"""E-mail notices to agents who asked for them (console preferences): something arrived
for their organisation, or an open item falls due within two days. A notice carries a
link to the console and a count, never personal data: the file is read signed in.

Each organisation's cursor is claimed before its mails leave (a compare-and-set on the
cursor row), so two consumer replicas never both send the same notice; a mail the relay
refuses puts the cursor back, to be tried again on the next pass."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import and_, func, or_, select, update

from services.config import Settings
from services.console.labels import EXCHANGE_TITLES
from services.console.models import Agent, NoticeCursor
from services.db import Database, utcnow
from services.exchanges.models import Item
from services.exchanges.registry import EXCHANGES
from services.feed.models import FeedItem
from services.metrics import AGENT_NOTICES

log = logging.getLogger(__name__)
SOON = timedelta(days=2)


class AgentNotifier:
    def __init__(self, db: Database, settings: Settings, interval_seconds: float = 30.0):
        self.db = db
        self.settings = settings
        self.interval = interval_seconds
        for outcome in ("sent", "failed"):
            AGENT_NOTICES.labels(outcome)

    def run(self, stop: threading.Event) -> None:
        if not self.settings.smtp_host:
            # Idle, not gone: a consumer thread that ends stops its process.
            log.info("agent notices: no SMTP relay configured (VIGIE_SMTP_HOST); idle")
            stop.wait()
            return
        while not stop.is_set():
            try:
                self.once()
            except Exception:  # noqa: BLE001 - a pass that fails is tried again
                log.exception("agent notices: pass failed")
            stop.wait(self.interval)

    def once(self, now: datetime | None = None) -> int:
        """One pass over the organisations with agents to tell; returns mails sent."""
        now = now or utcnow()
        sent = 0
        with self.db.sessions() as session:
            wanting = session.execute(
                select(Agent.org_id, Agent.email).where(
                    Agent.notify.is_(True), Agent.disabled_at.is_(None),
                    Agent.email.is_not(None))).all()
        recipients: dict[str, list[str]] = {}
        for org_id, email in wanting:
            recipients.setdefault(org_id, []).append(email)
        for org_id, emails in recipients.items():
            sent += self._organisation(org_id, emails, now)
        return sent

    def _organisation(self, org_id: str, emails: list[str], now: datetime) -> int:
        with self.db.transaction() as session:
            cursor = session.get(NoticeCursor, org_id)
            if cursor is None:
                # From now on: what arrived before anyone asked is not announced.
                last = session.scalar(select(func.max(FeedItem.seq))
                                      .where(FeedItem.org_id == org_id)) or 0
                session.add(NoticeCursor(org_id=org_id, feed_seq=last, due_checked_at=now))
                return 0
            seq, checked = cursor.feed_seq, cursor.due_checked_at or now
            arrived = session.execute(
                select(FeedItem.seq, Item.exchange)
                .join(Item, Item.id == FeedItem.item_id)
                .where(FeedItem.org_id == org_id, FeedItem.seq > seq)
                .order_by(FeedItem.seq).limit(1000)).all()
            falling_due = session.execute(
                select(Item.exchange, func.count()).where(
                    # Come within two days of their deadline since the last pass, or
                    # arrived since then already that close.
                    Item.recipient_org == org_id, Item.due_at.is_not(None),
                    Item.due_at <= now + SOON,
                    or_(Item.due_at > checked + SOON, Item.created_at > checked),
                    Item.status.not_in(_closed_states()))
                .group_by(Item.exchange)).all()
            new_seq = arrived[-1].seq if arrived else seq
            claimed = session.execute(
                update(NoticeCursor).where(and_(NoticeCursor.org_id == org_id,
                                                NoticeCursor.feed_seq == seq))
                .values(feed_seq=new_seq, due_checked_at=now)).rowcount
        if not claimed or (not arrived and not falling_due):
            return 0
        lines = [f"- {n} message(s) : {EXCHANGE_TITLES.get(x, x)}"
                 for x, n in sorted(Counter(r.exchange for r in arrived).items())]
        lines += [f"- {n} dossier(s) à échéance sous 48 h : {EXCHANGE_TITLES.get(x, x)}"
                  for x, n in sorted(falling_due)]
        try:
            self._send(emails, lines)
        except (OSError, smtplib.SMTPException) as failure:
            log.warning("agent notices for %s not sent: %s", org_id, failure)
            AGENT_NOTICES.labels("failed").inc()
            with self.db.transaction() as session:
                session.execute(update(NoticeCursor).where(
                    NoticeCursor.org_id == org_id, NoticeCursor.feed_seq == new_seq)
                    .values(feed_seq=seq, due_checked_at=checked))
            return 0
        AGENT_NOTICES.labels("sent").inc(len(emails))
        return len(emails)

    def _send(self, emails: list[str], lines: list[str]) -> None:
        s = self.settings
        link = f"{s.console_url}/console/"
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, Path(s.smtp_password_file).read_text().strip())
            for email in emails:
                message = EmailMessage()
                message["From"] = s.mail_from
                message["To"] = email
                message["Subject"] = "Vigie : du nouveau pour votre organisation"
                message.set_content(
                    "Bonjour,\n\nDe nouveaux éléments vous attendent dans Vigie :\n"
                    + "\n".join(lines)
                    + f"\n\nConsultez-les après connexion : {link}\n\n"
                    "Ce message ne contient aucune donnée des dossiers. Pour ne plus le "
                    "recevoir, modifiez vos préférences dans la console.\n")
                smtp.send_message(message)


def _closed_states() -> list[str]:
    return sorted({s for e in EXCHANGES.values() for s in e.closed_states})
