"""An order sees only what is addressed to it; a prosecution only what it sent; the
other organisation types see nothing."""

from __future__ import annotations

from tests.conftest import example_notification


def test_orders_and_prosecutions_are_isolated(stack):
    paris, marseille = stack.api("pr-paris"), stack.api("pr-marseille")
    cnop, cnom = stack.api("cnop"), stack.api("cnom")
    item = paris.post("/v1/order-notifications", example_notification()).json()
    cnop.wait_delivered(item["id"])
    path = f"/v1/order-notifications/{item['id']}"

    assert cnom.get(path).status_code == 404
    assert marseille.get(path).status_code == 404
    assert cnom.post(f"{path}/acknowledgement", {"reference": "x"}).status_code == 404
    assert item["id"] not in [e["event"]["subject"] for e in cnom.feed()]
    for api, role in ((cnom, "received"), (marseille, "sent")):
        listed = api.get("/v1/order-notifications", role=role).json()["items"]
        assert item["id"] not in [i["id"] for i in listed]
        assert all(api.org_id in (i["sender"], i["recipient"]) for i in listed)
    assert paris.get(path).status_code == 200 and cnop.get(path).status_code == 200


def test_other_organisation_types_see_none(stack):
    item = stack.api("pr-paris").post("/v1/order-notifications", example_notification()).json()
    stack.api("cnop").wait_delivered(item["id"])
    for org in ("tj-paris", "tj-lyon", "miviludes", "dgs", "plateforme-alpha", "arcom",
                "vigilance-alpha", "exploitation"):
        api = stack.api(org)
        assert api.get(f"/v1/order-notifications/{item['id']}").status_code == 404, org
        assert api.get("/v1/order-notifications").status_code == 403, org


def test_courts_cannot_notify(stack):
    resp = stack.api("tj-paris").post("/v1/order-notifications", example_notification())
    assert resp.status_code == 403
