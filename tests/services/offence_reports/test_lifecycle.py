"""Art. 40 reports end to end on both databases: routing by place, the parquet's number,
the art. 40-2 feedback and its deadline falling overdue, the link to an information
request."""

from __future__ import annotations

from datetime import timedelta

from services.db import utcnow
from services.exchanges.models import Item
from tests.conftest import (
    PARQUET,
    events_for,
    example_offence_report,
    example_request,
)


def _report(stack, **overrides) -> dict:
    resp = stack.api("miviludes").post("/v1/offence-reports", example_offence_report(**overrides))
    assert resp.status_code == 201, resp.text
    item = resp.json()
    stack.api(item["recipient"]).wait_delivered(item["id"])
    return item


def test_routed_to_the_parquet_competent_for_the_place(stack):
    assert _report(stack)["recipient"] == "pr-marseille"      # Marseille: default of the 13
    assert _report(stack, place={"commune_insee": "75056"})["recipient"] == "pr-paris"
    named = _report(stack, recipient="pr-paris")              # a named office is taken
    assert named["recipient"] == "pr-paris"
    api = stack.api("miviludes")
    # Aix-en-Provence has its own tribunal: no prosecution office registered for it.
    aix = api.post("/v1/offence-reports",
                   example_offence_report(place={"commune_insee": "13001"}))
    assert aix.status_code == 422
    assert "TJ-AIX-EN-PROVENCE" in aix.json()["errors"][0]["message"]
    nowhere = api.post("/v1/offence-reports",
                       example_offence_report(place={"commune_insee": "2A004"}))
    assert nowhere.json()["errors"] == [{"field": "place.commune_insee", "message":
                                         "the courts table names no jurisdiction for 2A004: "
                                         "name the recipient"}]
    wrong = api.post("/v1/offence-reports", example_offence_report(recipient="cnom"))
    assert wrong.json()["errors"][0]["field"] == "recipient"
    # Only state services report; a platform or a court cannot.
    assert stack.api("tj-paris").post("/v1/offence-reports",
                                      example_offence_report()).status_code == 403


def test_acknowledged_then_the_art_40_2_feedback_falls_overdue(stack):
    item = _report(stack)
    path = f"/v1/offence-reports/{item['id']}"
    parquet, miviludes = stack.api("pr-marseille"), stack.api("miviludes")
    ack = parquet.post(f"{path}/acknowledgement", {"parquet_number": "25123000456"})
    assert ack.status_code == 201, ack.text
    assert ack.json()["status"] == "acknowledged"
    # The decision the reporter must be told is now due (six months by default).
    assert ack.json()["due_at"] > item["due_at"] and ack.json()["overdue"] is False
    miviludes.wait_feed(lambda f: "acknowledged" in events_for(f, item["id"]))
    with stack.hub.db.transaction() as session:
        session.get(Item, item["id"]).due_at = utcnow() - timedelta(minutes=1)
    assert miviludes.get(path).json()["overdue"] is True
    late = miviludes.get("/v1/offence-reports", overdue="true", role="sent").json()["items"]
    assert item["id"] in [i["id"] for i in late]
    metrics = stack.http.get("/metrics").text
    line = next(m for m in metrics.splitlines()
                if m.startswith('vigie_items_overdue{exchange="offence-reports"}'))
    assert float(line.split()[-1]) >= 1
    # A classement sans suite needs its reasons (art. 40-2 CPP).
    refused = parquet.post(f"{path}/decision", {"decision": "classement_sans_suite",
                                                "decided_on": "2025-11-28"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "reasons", "message":
                                         "required for a classement sans suite "
                                         "(art. 40-2 CPP)"}]
    decided = parquet.post(f"{path}/decision", {
        "decision": "classement_sans_suite", "decided_on": "2025-11-28",
        "reasons": {"kind": "opportunity", "code": "damage_repaired",
                    "explanation": "Préjudice réparé."}})
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "decided" and decided.json()["overdue"] is False
    feed = miviludes.wait_feed(lambda f: "decided" in events_for(f, item["id"]))
    told = next(e for e in feed if e["event"]["subject"] == item["id"]
                and e["event"]["type"].endswith(".decided"))
    assert told["event"]["data"]["content"]["reasons"]["kind"] == "opportunity"
    # Only the parquet decides.
    assert miviludes.post(f"{path}/decision", {"decision": "prosecution",
                                               "decided_on": "2025-11-28"}).status_code == 403


def test_linked_to_the_parquets_information_request(stack):
    item = _report(stack)
    path = f"/v1/offence-reports/{item['id']}"
    parquet = stack.api("pr-marseille")
    request = parquet.post("/v1/information-requests",
                           example_request(requesting_authority=PARQUET)).json()
    linked = parquet.post(f"{path}/information-request-link",
                          {"information_request": request["id"]})
    assert linked.status_code == 201, linked.text
    assert linked.json()["steps"][-1]["content"] == {"information_request": request["id"]}
    # Another parquet's request, or an unknown id, is refused.
    other = stack.api("pr-paris").post("/v1/information-requests",
                                       example_request(requesting_authority=PARQUET)).json()
    for foreign in (other["id"], "00000000-0000-4000-8000-000000000000", item["id"]):
        resp = parquet.post(f"{path}/information-request-link",
                            {"information_request": foreign})
        assert resp.status_code == 422, foreign
        assert resp.json()["errors"] == [{"field": "information_request",
                                          "message": "not one of your information-requests"}]
