"""A platform sees only what is addressed to it; a flagger only what it sent; a court or
prosecution only its own suspension orders."""

from __future__ import annotations

from tests.conftest import example_notice, example_order


def test_platforms_and_flaggers_are_isolated(stack):
    notice = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice()).json()
    stack.api("plateforme-alpha").wait_delivered(notice["id"])
    path = f"/v1/content-notices/{notice['id']}"
    for org in ("plateforme-beta", "vigilance-beta", "dgs", "tj-paris", "cnom", "exploitation"):
        assert stack.api(org).get(path).status_code == 404, org
    for org in ("plateforme-beta", "vigilance-beta"):
        listed = stack.api(org).get("/v1/content-notices", limit=200).json()["items"]
        assert notice["id"] not in [i["id"] for i in listed]
        assert all(org in (i["sender"], i["recipient"]) for i in listed)
    assert stack.api("plateforme-alpha").get(path).status_code == 200


def test_suspension_orders_are_isolated(stack):
    order = stack.api("tj-paris").post("/v1/suspension-orders", example_order()).json()
    stack.api("plateforme-beta").wait_delivered(order["id"])
    path = f"/v1/suspension-orders/{order['id']}"
    for org in ("tj-lyon", "pr-paris", "plateforme-alpha", "arcom", "vigilance-alpha", "miviludes"):
        assert stack.api(org).get(path).status_code == 404, org
    assert stack.api("arcom").get("/v1/suspension-orders").status_code == 403
    for org in ("tj-lyon", "plateforme-alpha"):
        listed = stack.api(org).get("/v1/suspension-orders", limit=200).json()["items"]
        assert order["id"] not in [i["id"] for i in listed]
    assert stack.api("plateforme-beta").get(path).status_code == 200
