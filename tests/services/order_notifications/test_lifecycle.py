"""Order notifications end to end over the real broker, on both databases: routing,
acknowledgement, outcomes after the notification, retraction and erasure."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from services.exchanges.models import Item, ItemStep
from services.feed.models import FeedItem
from services.idempotency.models import IdempotencyRecord
from tests.conftest import (
    events_for,
    example_notification,
    start_consumers,
    stop_consumers,
)

PERSONAL = ("Moreau", "Julien", "10001234565", "1978-04-12", "Lilas", "Prado", "cancer",
            "sursis")


def _errors(resp) -> list[dict]:
    assert resp.status_code == 422, resp.text
    return resp.json()["errors"]


def _entries(feed: list[dict], item_id: str) -> list[dict]:
    return [i for i in feed if i["event"]["subject"] == item_id]


def test_notify_acknowledge_and_outcome(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    created = prosecution.post("/v1/order-notifications", example_notification())
    assert created.status_code == 201, created.text
    item = created.json()
    # The recipient is derived from the profession: the pharmacists' order.
    # Answered once it is in the order's feed: delivered by the same commit.
    assert (item["recipient"], item["status"]) == ("cnop", "delivered")
    assert item["content"]["legal_regime"] == "CPP_11_3"
    assert item["due_at"] is not None and item["overdue"] is False

    delivered = order.wait_delivered(item["id"])
    assert delivered["event"]["data"]["content"]["professional"]["rpps"] == "10001234565"
    read = order.get(f"/v1/order-notifications/{item['id']}").json()
    assert read["status"] == "delivered" and read["delivered_at"] == delivered["delivered_at"]

    ack = order.post(f"/v1/order-notifications/{item['id']}/acknowledgement",
                     {"reference": "CNOP-DISC-2025-0311"})
    assert ack.status_code == 201, ack.text
    assert ack.json()["status"] == "acknowledged"
    # Acknowledged is not closed: the outcome of the case is now due (a year by default).
    assert ack.json()["due_at"] > item["due_at"] and ack.json()["overdue"] is False
    prosecution.wait_feed(lambda f: "acknowledged" in events_for(f, item["id"]))
    # The confidentiality reminder of art. 11-2 II CPP is on the resource and every message.
    assert "11-2" in ack.json()["notice"]
    assert all("11-2" in e["event"]["data"]["notice"]
               for e in _entries(prosecution.feed(), item["id"]))

    outcome = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                               {"outcome": "conviction_final", "decision_date": "2025-11-20"})
    assert outcome.status_code == 201, outcome.text
    assert outcome.json()["status"] == "outcome_notified"
    feed = order.wait_feed(lambda f: "outcome_notified" in events_for(f, item["id"]))
    assert events_for(feed, item["id"]) == ["submitted", "outcome_notified"]
    # A second outcome (the measure changed again) is still possible.
    again = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                             {"outcome": "measure_changed", "decision_date": "2025-11-21"})
    assert again.status_code == 201


def test_retraction_erases_personal_data_everywhere(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    key = "retract-me-" + stack.backend
    item = prosecution.post("/v1/order-notifications", example_notification(), key=key).json()
    order.wait_delivered(item["id"])
    order.post(f"/v1/order-notifications/{item['id']}/acknowledgement", {"reference": "R-1"})

    resp = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                            {"outcome": "relaxe", "final": True, "decision_date": "2025-11-20",
                             "details": "Relaxe de M. Moreau au bénéfice du doute."})
    assert resp.status_code == 201, resp.text
    retracted = resp.json()
    assert retracted["status"] == "retracted"
    assert retracted["content"]["redacted"] is True
    assert retracted["content"]["digest"].startswith("sha256:")
    assert retracted["content"]["profession"] == "PHARMACIENS"
    assert not any(p in json.dumps(retracted, ensure_ascii=False) for p in PERSONAL)
    assert retracted["steps"][-1]["content"] == {"outcome": "relaxe", "final": True,
                                                 "decision_date": "2025-11-20"}

    order.wait_feed(lambda f: "retracted" in events_for(f, item["id"]))
    # Read again: pages read while the retraction landed may predate it (the reason the
    # retraction tells the order to erase what it already holds).
    mine = _entries(order.feed(), item["id"])
    assert [e["event"]["type"].rsplit(".", 1)[1] for e in mine] == ["submitted", "retracted"]
    assert mine[-1]["event"]["data"]["erase"] is True
    assert mine[0]["event"]["data"]["redacted"] is True
    assert not any(p in json.dumps(mine, ensure_ascii=False) for p in PERSONAL)

    # Nothing the hub keeps about this notification names the person any more.
    with stack.hub.db.sessions() as session:
        stored = [session.get(Item, item["id"]).content]
        stored += session.scalars(select(ItemStep.body).where(ItemStep.item_id == item["id"]))
        stored += session.scalars(select(FeedItem.envelope)
                                  .where(FeedItem.item_id == item["id"]))
        stored += session.scalars(select(IdempotencyRecord.response)
                                  .where(IdempotencyRecord.item_id == item["id"]))
    assert len(stored) >= 5
    for text in stored:
        assert not any(p in text for p in PERSONAL), text
    # The stored first answer of the submission is the redacted one too.
    replay = prosecution.post("/v1/order-notifications", example_notification(), key=key)
    assert replay.json()["content"]["redacted"] is True

    # After a retraction, no further outcome.
    late = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                            {"outcome": "conviction_final", "decision_date": "2025-11-21"})
    assert late.status_code == 409
    assert order.get(f"/v1/order-notifications/{item['id']}").json()["status"] == "retracted"


def test_retraction_before_delivery_still_arrives_after_the_notification(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    stop_consumers(stack)
    try:
        item = prosecution.post("/v1/order-notifications", example_notification()).json()
        resp = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                                {"outcome": "acquittal", "final": True,
                                 "decision_date": "2025-11-20"})
        assert resp.status_code == 201 and resp.json()["status"] == "retracted"
    finally:
        start_consumers(stack)
    order.wait_feed(lambda f: "retracted" in events_for(f, item["id"]))
    mine = _entries(order.feed(), item["id"])
    assert events_for(mine, item["id"]) == ["submitted", "retracted"]
    assert not any(p in json.dumps(mine, ensure_ascii=False) for p in PERSONAL)


def test_outcomes_follow_their_notification_under_concurrency(stack):
    prosecutions = [stack.api("pr-paris"), stack.api("pr-marseille")]
    order = stack.api("cnop")
    ids: list[str] = []
    lock = threading.Lock()

    def notify_then_conclude(api):
        for _ in range(4):
            item = api.post("/v1/order-notifications", example_notification()).json()
            api.post(f"/v1/order-notifications/{item['id']}/outcome",
                     {"outcome": "measure_lifted", "decision_date": "2025-11-20"})
            with lock:
                ids.append(item["id"])

    threads = [threading.Thread(target=notify_then_conclude, args=(p,)) for p in prosecutions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8
    feed = order.wait_feed(
        lambda f: all("outcome_notified" in events_for(f, i) for i in ids), timeout=60)
    for item_id in ids:
        assert events_for(feed, item_id) == ["submitted", "outcome_notified"]


def test_routing_by_profession(stack):
    prosecution = stack.api("pr-marseille")
    for profession, order in (("MEDECINS", "cnom"), ("INFIRMIERS", "cnoi"),
                              ("PHARMACIENS", "cnop")):
        body = example_notification()
        body["professional"]["profession"] = profession
        item = prosecution.post("/v1/order-notifications", body).json()
        assert item["recipient"] == order
        stack.api(order).wait_delivered(item["id"])
    named = prosecution.post("/v1/order-notifications", example_notification(recipient="cnop"))
    assert named.status_code == 201 and named.json()["recipient"] == "cnop"


def test_an_acquittal_under_appeal_keeps_the_final_outcome_due(stack):
    """A relaxe under appeal is recorded, not erased; the erasure comes with the final
    decision. A non-final conviction after a judicial control leaves the outcome due too."""
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    order.wait_delivered(item["id"])
    path = f"/v1/order-notifications/{item['id']}/outcome"
    unsaid = prosecution.post(path, {"outcome": "relaxe", "decision_date": "2025-11-20"})
    assert [e["field"] for e in _errors(unsaid)] == ["final"]
    appealed = prosecution.post(path, {"outcome": "relaxe", "final": False,
                                       "decision_date": "2025-11-20"})
    assert appealed.status_code == 201, appealed.text
    body = appealed.json()
    assert body["status"] == "awaiting_final_decision" and body["overdue"] is False
    assert body["content"]["professional"]["last_name"] == "Moreau"  # not erased yet
    final = prosecution.post(path, {"outcome": "relaxe", "final": True,
                                    "decision_date": "2025-11-25"})
    assert final.json()["status"] == "retracted" and final.json()["content"]["redacted"]
    events = events_for(order.wait_feed(lambda f: "retracted" in events_for(f, item["id"])),
                        item["id"])
    assert events == ["submitted", "outcome_notified", "retracted"]


@pytest.mark.parametrize("outcome,final,status", [
    ("conviction_not_final", None, "awaiting_final_decision"),
    ("dispense_de_peine", None, "outcome_notified"),
    ("irresponsabilite_penale", True, "outcome_notified"),
    ("measure_lifted", None, "awaiting_final_decision"),
])
def test_outcomes_and_what_remains_due(stack, outcome, final, status):
    prosecution = stack.api("pr-paris")
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    body = {"outcome": outcome, "decision_date": "2025-11-20"}
    if final is not None:
        body["final"] = final
    resp = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome", body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == status


def test_an_erroneous_notification_is_withdrawn_erased_and_its_deletion_confirmed(stack):
    """Wrong person: the prosecution withdraws; the data are erased as for a retraction;
    the order's confirmation that it deleted its copies is then due, and closes the item."""
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    order.wait_delivered(item["id"])
    path = f"/v1/order-notifications/{item['id']}"
    early = order.post(f"{path}/deletion", {"deleted_on": "2025-11-24"})
    assert early.status_code == 409  # nothing to delete yet
    unexplained = prosecution.post(f"{path}/withdrawal", {"reason": "wrong_person"})
    assert [e["field"] for e in _errors(unexplained)] == ["explanation"]
    by_order = order.post(f"{path}/withdrawal", {"reason": "wrong_person", "explanation": "x"})
    assert by_order.status_code == 403

    resp = prosecution.post(f"{path}/withdrawal", {
        "reason": "wrong_person", "explanation": "Homonyme : M. Julien Moreau, né le 12 avril "
        "1978, n'est pas la personne condamnée."})
    assert resp.status_code == 201, resp.text
    withdrawn = resp.json()
    assert withdrawn["status"] == "withdrawn" and withdrawn["content"]["redacted"] is True
    assert withdrawn["steps"][-1]["content"] == {"reason": "wrong_person"}
    assert not any(p in json.dumps(withdrawn, ensure_ascii=False) for p in PERSONAL)
    # The order's deletion confirmation is due (30 days by default), not yet overdue.
    assert withdrawn["due_at"] > withdrawn["updated_at"] and withdrawn["overdue"] is False
    order.wait_feed(lambda f: "withdrawn" in events_for(f, item["id"]))
    mine = _entries(order.feed(), item["id"])
    assert mine[-1]["event"]["data"]["erase"] is True
    assert not any(p in json.dumps(mine, ensure_ascii=False) for p in PERSONAL)
    with stack.hub.db.sessions() as session:
        stored = [session.get(Item, item["id"]).content]
        stored += session.scalars(select(ItemStep.body).where(ItemStep.item_id == item["id"]))
    assert not any(p in text for text in stored for p in PERSONAL)

    for late in (prosecution.post(f"{path}/outcome", {"outcome": "conviction_final",
                                                       "decision_date": "2025-11-21"}),
                 prosecution.post(f"{path}/withdrawal", {"reason": "wrong_order",
                                                         "explanation": "x"})):
        assert late.status_code == 409
    future = order.post(f"{path}/deletion", {"deleted_on": "2999-01-01"})
    assert [e["field"] for e in _errors(future)] == ["deleted_on"]
    confirmed = order.post(f"{path}/deletion", {"deleted_on": "2025-11-24"})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["status"] == "deletion_confirmed"
    assert confirmed.json()["overdue"] is False
    prosecution.wait_feed(lambda f: "deletion_confirmed" in events_for(f, item["id"]))
    assert order.post(f"{path}/deletion", {"deleted_on": "2025-11-24"}).status_code == 409
    closed = prosecution.get("/v1/order-notifications?status=deletion_confirmed&role=sent")
    assert item["id"] in [i["id"] for i in closed.json()["items"]]


def test_a_retraction_waits_for_the_orders_deletion_confirmation(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    order.wait_delivered(item["id"])
    path = f"/v1/order-notifications/{item['id']}"
    retracted = prosecution.post(f"{path}/outcome", {"outcome": "non_lieu", "final": True,
                                                     "decision_date": "2025-11-20"}).json()
    assert retracted["status"] == "retracted" and retracted["due_at"] is not None
    assert prosecution.post(f"{path}/deletion", {"deleted_on": "2025-11-24"}).status_code == 403
    confirmed = order.post(f"{path}/deletion", {"deleted_on": "2025-11-24"})
    assert confirmed.json()["status"] == "deletion_confirmed", confirmed.text


def test_informing_the_person_is_a_later_step_that_keeps_the_state(stack):
    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    body = example_notification()
    body.pop("person_informed_on")
    item = prosecution.post("/v1/order-notifications", body)
    assert item.status_code == 201, item.text
    item = item.json()
    order.wait_delivered(item["id"])
    ack = order.post(f"/v1/order-notifications/{item['id']}/acknowledgement",
                     {"reference": "R-7"}).json()
    path = f"/v1/order-notifications/{item['id']}/person-information"
    wrong = prosecution.post(path, {"informed_on": "2999-01-01", "means": "pigeon"})
    assert sorted(e["field"] for e in _errors(wrong)) == ["means"]  # schema first
    future = prosecution.post(path, {"informed_on": "2999-01-01", "means": "letter"})
    assert [e["field"] for e in _errors(future)] == ["informed_on"]
    assert order.post(path, {"informed_on": "2025-11-05", "means": "letter"}).status_code == 403
    resp = prosecution.post(path, {"informed_on": "2025-11-05", "means": "letter"})
    assert resp.status_code == 201, resp.text
    after = resp.json()
    assert after["status"] == "acknowledged"  # state and deadline unchanged
    assert after["due_at"] == ack["due_at"]
    feed = order.wait_feed(lambda f: "person_informed" in events_for(f, item["id"]))
    entry = _entries(feed, item["id"])[-1]["event"]["data"]
    assert entry["content"] == {"informed_on": "2025-11-05", "means": "letter"}
    assert "11-2" in entry["notice"]
