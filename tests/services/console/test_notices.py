"""Agents' e-mail notices, sent to a real SMTP server (aiosmtpd) by the consumer: one
when something arrives, one when an open item falls due, a link and counts only."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from consumers.agent_notices import AgentNotifier
from services.console.models import Agent
from tests.conftest import _free_port, agent, example_request


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message["Subject"] + "\n" + message.get_content()))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_an_agent_is_told_by_mail_without_personal_data(stack, smtp):
    inbox, port = smtp
    settings = dataclasses.replace(stack.settings, smtp_host="127.0.0.1", smtp_port=port,
                                   mail_from="vigie@exemple.gouv.fr")
    person = agent("analyste.dgs")
    with stack.hub.db.transaction() as session:
        session.execute(update(Agent).where(Agent.sub == person["sub"]).values(notify=True))
    notifier = AgentNotifier(stack.hub.db, settings)
    notifier.once()                      # the organisation's cursor starts now
    inbox.messages.clear()

    court = stack.api("tj-lyon")
    made = court.post("/v1/information-requests", example_request(
        recipient="dgs", due_date=(date.today() + timedelta(days=1)).isoformat()))
    assert made.status_code == 201, made.text
    assert notifier.once() == 1
    assert len(inbox.messages) == 1
    sender, to, text = inbox.messages[0]
    assert sender == "vigie@exemple.gouv.fr" and to == [person["email"]]
    assert "Demandes d'information" in text and f"{settings.public_url}/console/" in text
    assert "échéance" in text
    # A link and counts: no content, no item id, no name.
    for secret in ("Éveil", made.json()["id"], "24123000456", "tj-lyon"):
        assert secret not in text
    # Nothing new: no mail.
    assert notifier.once() == 0 and len(inbox.messages) == 1
    # The relay down: nothing lost, sent on the next pass.
    court.post("/v1/information-requests", example_request(recipient="dgs"))
    broken = AgentNotifier(stack.hub.db, dataclasses.replace(settings, smtp_port=_free_port()))
    assert broken.once() == 0
    assert notifier.once() == 1 and len(inbox.messages) == 2
    with stack.hub.db.transaction() as session:
        session.execute(update(Agent).where(Agent.sub == person["sub"]).values(notify=False))
