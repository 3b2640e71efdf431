"""An organisation never sees, nor learns of, another organisation's items."""

from __future__ import annotations

from tests.conftest import (
    events_for,
    example_answer,
    example_request,
    start_consumers,
    stop_consumers,
)


def test_a_court_never_sees_another_courts_requests(stack):
    paris, lyon = stack.api("tj-paris"), stack.api("tj-lyon")
    item = paris.post("/v1/information-requests", example_request()).json()
    missing = lyon.get("/v1/information-requests/does-not-exist")
    resp = lyon.get(f"/v1/information-requests/{item['id']}")
    assert resp.status_code == 404
    # Indistinguishable from an id that does not exist.
    # The same answer, but for the request's own id (`instance`), which says nothing.
    assert {**resp.json(), "instance": None} == {**missing.json(), "instance": None}
    listed = lyon.get("/v1/information-requests").json()["items"]
    assert item["id"] not in [i["id"] for i in listed]
    assert all("tj-lyon" in (i["sender"], i["recipient"]) for i in listed)
    for step in ("withdrawal",):
        assert lyon.post(f"/v1/information-requests/{item['id']}/{step}",
                         {"reason": "x"}).status_code == 404
    assert paris.get(f"/v1/information-requests/{item['id']}").json()["status"] == "submitted"


def test_dgs_never_sees_what_is_addressed_to_miviludes(stack):
    court, miviludes, dgs = stack.api("tj-paris"), stack.api("miviludes"), stack.api("dgs")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_feed(lambda f: "submitted" in events_for(f, item["id"]))
    assert dgs.get(f"/v1/information-requests/{item['id']}").status_code == 404
    for step, body in (("acknowledgement", {}), ("answer", example_answer()),
                       ("declination", {"reason": "other", "explanation": "x"})):
        assert dgs.post(f"/v1/information-requests/{item['id']}/{step}",
                        body).status_code == 404
    assert item["id"] not in [i["event"]["subject"] for i in dgs.feed()]
    received = dgs.get("/v1/information-requests", role="received").json()["items"]
    assert all(i["recipient"] == "dgs" for i in received)


def test_lists_show_only_own_items(stack):
    for org in ("tj-paris", "tj-lyon", "pr-paris", "miviludes", "dgs"):
        api = stack.api(org)
        for item in api.get("/v1/information-requests", limit=200).json()["items"]:
            assert org in (item["sender"], item["recipient"])
        for entry in api.feed():
            assert entry["event"]["recipientorg"] == org


def test_organisations_without_the_read_scope_learn_nothing(stack):
    item = stack.api("tj-paris").post("/v1/information-requests", example_request()).json()
    for org in ("cnom", "plateforme-alpha", "arcom", "vigilance-alpha", "exploitation"):
        api = stack.api(org)
        assert api.get("/v1/information-requests").status_code == 403
        assert api.get(f"/v1/information-requests/{item['id']}").status_code == 404


def test_a_recipient_sees_an_item_once_it_is_delivered(stack):
    """Delivery is the commit: the 201 means the item is in the recipient's feed, even
    with no background process running."""
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    stop_consumers(stack)
    try:
        item = court.post("/v1/information-requests", example_request()).json()
        received = miviludes.get("/v1/information-requests", role="received").json()["items"]
        assert item["id"] in [i["id"] for i in received]
        entry = next(i for i in miviludes.feed() if i["event"]["subject"] == item["id"])
    finally:
        start_consumers(stack)
    read = miviludes.get(f"/v1/information-requests/{item['id']}").json()
    assert read["delivered_at"] == entry["delivered_at"]
