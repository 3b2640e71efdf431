"""The information-request exchange end to end, over the real broker, on both databases."""

from __future__ import annotations

from tests.conftest import PARQUET, events_for, example_answer, example_request


def test_submit_deliver_acknowledge_answer(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")

    created = court.post("/v1/information-requests", example_request())
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["status"] == "submitted"
    assert (item["sender"], item["recipient"]) == ("tj-paris", "miviludes")
    assert created.headers["Location"] == f"/v1/information-requests/{item['id']}"
    assert "recipient" not in item["content"]

    feed = miviludes.wait_feed(lambda f: "submitted" in events_for(f, item["id"]))
    delivered = next(i for i in feed if i["event"]["subject"] == item["id"])
    event = delivered["event"]
    assert event["specversion"] == "1.0"
    assert event["type"] == "fr.gouv.vigie.information-requests.submitted"
    assert (event["senderorg"], event["recipientorg"]) == ("tj-paris", "miviludes")
    assert event["correlationid"] == item["id"]
    assert event["data"]["content"]["questions"] == example_request()["questions"]

    read = miviludes.get(f"/v1/information-requests/{item['id']}").json()
    assert read["delivered_at"] is not None

    ack = miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement",
                         {"reference": "MIV-1"})
    assert ack.status_code == 201, ack.text
    assert ack.json()["status"] == "acknowledged"

    answer = miviludes.post(f"/v1/information-requests/{item['id']}/answer",
                            example_answer(sources=["synthèse"]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "answered"

    court_feed = court.wait_feed(lambda f: "answered" in events_for(f, item["id"]))
    assert events_for(court_feed, item["id"]) == ["acknowledged", "answered"]
    answered = [i for i in court_feed if i["event"]["subject"] == item["id"]][-1]
    assert answered["event"]["data"]["content"]["text"] == "Quatorze signalements depuis 2019."

    final = court.get(f"/v1/information-requests/{item['id']}").json()
    assert final["status"] == "answered"
    assert [s["action"] for s in final["steps"]] == ["acknowledgement", "answer"]
    assert final["steps"][1]["by"] == "miviludes"
    assert final["overdue"] is False

    # A closed request takes no further step.
    again = miviludes.post(f"/v1/information-requests/{item['id']}/declination",
                           {"reason": "other", "explanation": "trop tard"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_decline_and_withdraw(stack):
    court, dgs = stack.api("pr-paris"), stack.api("dgs")
    declined = court.post("/v1/information-requests",
                          example_request(recipient="dgs", requesting_authority=PARQUET)).json()
    dgs.wait_delivered(declined["id"])
    resp = dgs.post(f"/v1/information-requests/{declined['id']}/declination",
                    {"reason": "not_competent", "explanation": "Relève de l'ARS."})
    assert resp.status_code == 201 and resp.json()["status"] == "declined"

    withdrawn = court.post("/v1/information-requests",
                          example_request(recipient="dgs", requesting_authority=PARQUET)).json()
    resp = court.post(f"/v1/information-requests/{withdrawn['id']}/withdrawal",
                      {"reason": "Information obtenue par une autre voie."})
    assert resp.status_code == 201 and resp.json()["status"] == "withdrawn"
    # The service is told, after the request itself, in order.
    feed = dgs.wait_feed(lambda f: "withdrawn" in events_for(f, withdrawn["id"]))
    assert events_for(feed, withdrawn["id"]) == ["submitted", "withdrawn"]
    # Withdrawn: no answer any more.
    late = dgs.post(f"/v1/information-requests/{withdrawn['id']}/answer", example_answer())
    assert late.status_code == 409
    court_feed = court.wait_feed(lambda f: "declined" in events_for(f, declined["id"]))
    assert events_for(court_feed, declined["id"]) == ["declined"]


def test_only_the_right_party_takes_each_step(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    # The requester cannot answer its own request (it lacks the scope: 403).
    assert court.post(f"/v1/information-requests/{item['id']}/answer",
                      example_answer()).status_code == 403
    # The service cannot withdraw the court's request: it holds no submit scope.
    assert miviludes.post(f"/v1/information-requests/{item['id']}/withdrawal",
                          {"reason": "x"}).status_code == 403


def test_recipient_must_be_a_designated_service(stack):
    court = stack.api("tj-paris")
    for recipient in ("tj-lyon", "cnom", "nobody-here"):
        resp = court.post("/v1/information-requests", example_request(recipient=recipient))
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"] == [
            {"field": "recipient", "message": "must be one of the services designated "
                                              "for art. 157-3 CPP: miviludes, dgs"}]


def test_lists_are_paginated_newest_first(stack):
    court = stack.api("tj-lyon")
    ids = [court.post("/v1/information-requests", example_request()).json()["id"]
           for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "role": "sent"}
        if cursor:
            params["after"] = cursor
        page = court.get("/v1/information-requests", **params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen[:5] == list(reversed(ids))
    assert len(seen) == len(set(seen))
    bad = court.get("/v1/information-requests", after="not-a-cursor")
    assert bad.status_code == 422
