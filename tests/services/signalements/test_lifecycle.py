"""Signalements end to end over the real broker, on both databases: pseudonymisation at
intake, identities shown to Miviludes only with a purpose, qualification, routing onward
to each of the three destinations in one step, and what the sender is told."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.exchanges.models import Item, ItemIdentities
from tests.conftest import (
    events_for,
    example_notice,
    example_offence_report,
    example_order_report,
    example_signalement,
)

IDENTIFYING = ("Roux", "Garnier", "2010-07-08", "anne.roux@example.org")


def _sent(stack, sender="asso-entraide-sud", **overrides) -> dict:
    resp = stack.api(sender).post("/v1/signalements", example_signalement(**overrides))
    assert resp.status_code == 201, resp.text
    item = resp.json()
    stack.api("miviludes").wait_delivered(item["id"])
    return item


def test_people_are_pseudonymised_at_intake(stack):
    item = _sent(stack)
    # Routed to the designated service; the people are pseudonyms everywhere.
    assert (item["recipient"], item["status"]) == ("miviludes", "delivered")
    assert item["content"]["people"] == [
        {"ref": "P1", "role": "victim", "minor": True},
        {"ref": "P2", "role": "alleged_author", "profession": "PHARMACIENS"}]
    delivered = stack.api("miviludes").wait_delivered(item["id"])
    for text in (json.dumps(item), json.dumps(delivered),
                 stack.api("miviludes").get(f"/v1/signalements/{item['id']}").text):
        assert not any(name in text for name in IDENTIFYING)
    # Kept apart, sealed: not in the items table, not readable in the identities table.
    with stack.hub.db.sessions() as session:
        content = session.get(Item, item["id"]).content
        sealed = session.get(ItemIdentities, item["id"]).sealed
    assert not any(name in content for name in IDENTIFYING)
    assert sealed.startswith("sealed:v1:") and "Roux" not in sealed


def test_identities_only_to_miviludes_with_a_purpose(stack):
    item = _sent(stack)
    path = f"/v1/signalements/{item['id']}"
    miviludes = stack.api("miviludes")
    refused = miviludes.get(path, identity="true")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "header:Vigie-Purpose"
    miviludes.extra_headers["Vigie-Purpose"] = quote("Qualification, dossier MIV-2025-1")
    named = miviludes.get(path, identity="true").json()
    assert named["identities"]["P1"] == {"last_name": "Roux", "first_names": ["Anne"],
                                         "birth_date": "2010-07-08",
                                         "contact": "anne.roux@example.org"}
    # The sender itself, with a purpose, does not get them back; nor does anyone else.
    association = stack.api("asso-entraide-sud")
    association.extra_headers["Vigie-Purpose"] = "Suivi"
    assert "identities" not in association.get(path, identity="true").json()
    assert stack.api("dgs").get(path).status_code == 404
    assert stack.api("asso-vigilance-nord").get(path).status_code == 404
    with stack.hub.db.sessions() as session:
        audited = session.scalars(select(AuditEntry).where(
            AuditEntry.org_id == "miviludes",
            AuditEntry.object.in_([path, path + "?identity=true"]))).all()
    # The disclosure is named in the entry, with its purpose.
    assert ("Qualification, dossier MIV-2025-1", path + "?identity=true", 200) in {
        (e.purpose, e.object, e.outcome) for e in audited}


def test_qualification_tells_the_sender_the_category_only(stack):
    item = _sent(stack, sender="ars-paca")
    path = f"/v1/signalements/{item['id']}"
    miviludes = stack.api("miviludes")
    assert miviludes.post(f"{path}/acknowledgement", {"reference": "MIV-1"}).status_code == 201
    done = miviludes.post(f"{path}/qualification",
                          {"category": "information", "reasons": "Mouvement suivi (dossier X)."})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "information"
    sender = stack.api("ars-paca")
    feed = sender.wait_feed(lambda f: "qualified" in events_for(f, item["id"]))
    told = next(e for e in feed if e["event"]["subject"] == item["id"]
                and e["event"]["type"].endswith(".qualified"))
    assert told["event"]["data"]["content"] == {"qualification": "information"}
    seen = sender.get(path).json()
    assert seen["steps"][-1]["content"] == {"qualification": "information"}
    assert "dossier X" in json.dumps(miviludes.get(path).json())
    # Closed: no second qualification.
    again = miviludes.post(f"{path}/qualification", {"category": "no_follow_up"})
    assert again.status_code == 409


def test_routed_onward_to_the_parquet_the_order_and_the_platform(stack):
    item = _sent(stack)
    path = f"/v1/signalements/{item['id']}"
    miviludes = stack.api("miviludes")
    to_parquet = miviludes.post(f"{path}/referral-to-prosecution", example_offence_report())
    assert to_parquet.status_code == 201, to_parquet.text
    step = to_parquet.json()["steps"][-1]["content"]
    assert to_parquet.json()["status"] == "routed"
    assert step["exchange"] == "offence-reports" and step["recipient"] == "pr-marseille"
    report = stack.api("pr-marseille").wait_delivered(step["item"])
    assert report["event"]["data"]["sender"] == "miviludes"
    assert report["event"]["data"]["content"]["facts"].startswith("Arrêt de chimiothérapie")
    to_order = miviludes.post(f"{path}/referral-to-order", example_order_report())
    assert to_order.status_code == 201, to_order.text
    order_step = to_order.json()["steps"][-1]["content"]
    assert (order_step["exchange"], order_step["recipient"]) == ("order-reports", "cnop")
    stack.api("cnop").wait_delivered(order_step["item"])
    to_platform = miviludes.post(f"{path}/referral-to-platform", example_notice())
    assert to_platform.status_code == 201, to_platform.text
    notice_step = to_platform.json()["steps"][-1]["content"]
    assert notice_step["recipient"] == "plateforme-alpha"
    notice = stack.api("plateforme-alpha").wait_delivered(notice_step["item"])
    assert notice["event"]["data"]["sender"] == "miviludes"
    assert notice["event"]["data"]["content"]["category"] == "dangerous_health_practice"
    # Each onward item is Miviludes' own: it reads them; the association cannot.
    association = stack.api("asso-entraide-sud")
    for exchange, step_ in (("offence-reports", step), ("order-reports", order_step),
                            ("content-notices", notice_step)):
        assert miviludes.get(f"/v1/{exchange}/{step_['item']}").status_code == 200
        assert association.get(f"/v1/{exchange}/{step_['item']}").status_code in (403, 404)
    # The association is told it was routed onward, never where or what.
    seen = association.get(path).json()
    assert [s["content"] for s in seen["steps"]] == [{"qualification": "onward_routing"}] * 3
    feed = association.wait_feed(lambda f: events_for(f, item["id"]).count("routed") == 3)
    routed = [e for e in feed if e["event"]["subject"] == item["id"]]
    assert all(e["event"]["data"]["content"] == {"qualification": "onward_routing"}
               for e in routed)
    text = json.dumps(seen) + json.dumps(routed)
    assert step["item"] not in text and "pr-marseille" not in text


def test_a_refused_onward_submission_changes_nothing(stack):
    item = _sent(stack)
    path = f"/v1/signalements/{item['id']}"
    miviludes = stack.api("miviludes")
    bad = miviludes.post(f"{path}/referral-to-prosecution",
                         example_offence_report(place={"commune_insee": "01001"}))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "place.commune_insee"
    unknown = miviludes.post(f"{path}/referral-to-prosecution",
                             {**example_offence_report(), "extra": 1})
    assert unknown.status_code == 422
    assert miviludes.get(path).json()["status"] == "delivered"
    assert miviludes.get("/v1/offence-reports", role="sent").status_code == 200
    # The association cannot route what it sent.
    assert stack.api("asso-entraide-sud").post(
        f"{path}/referral-to-order", example_order_report()).status_code in (403, 404)


def test_a_withdrawal_erases_the_identities(stack):
    item = _sent(stack)
    path = f"/v1/signalements/{item['id']}"
    association = stack.api("asso-entraide-sud")
    done = association.post(f"{path}/withdrawal", {"reason": "wrong_people"})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "withdrawn"
    assert done.json()["content"]["redacted"] is True
    with stack.hub.db.sessions() as session:
        assert session.get(ItemIdentities, item["id"]) is None
    miviludes = stack.api("miviludes")
    miviludes.extra_headers["Vigie-Purpose"] = "Controle interne"
    assert miviludes.get(path, identity="true").json()["identities"] is None


def test_invalid_signalements_list_every_field(stack):
    resp = stack.api("asso-entraide-sud").post("/v1/signalements", example_signalement(
        received_on="2999-01-01", recipient="dgs", period={"from": "2025-05-01",
                                                           "to": "2025-01-01"}))
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"received_on", "recipient", "period.to"}
    assert stack.api("plateforme-alpha").post(
        "/v1/signalements", example_signalement()).status_code == 403


def test_identities_are_resealed_under_a_new_data_key(stack):
    from services import sealed
    from services.exchanges.service import identities_context, reseal_identities

    item = _sent(stack)
    path = stack.hub.settings.data_keys_file or stack.hub.settings.state_dir / "data-keys.json"
    current = json.loads(Path(path).read_text())
    both = sealed.add_key(current)
    rotated = sealed.SecretBox.load(both)
    with stack.hub.db.transaction() as session:
        assert reseal_identities(session, rotated)["resealed"] >= 1
        assert reseal_identities(session, rotated) == {"resealed": 0, "unopenable": []}
    with stack.hub.db.sessions() as session:
        value = session.get(ItemIdentities, item["id"]).sealed
    assert rotated.is_current(value)
    assert json.loads(rotated.open(value, identities_context(item["id"])))["P1"][
        "last_name"] == "Roux"
    # Back under the hub's own key, for the tests that follow.
    back = sealed.SecretBox.load({**both, "active": current["active"]})
    with stack.hub.db.transaction() as session:
        assert reseal_identities(session, back)["unopenable"] == []
