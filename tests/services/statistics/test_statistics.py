"""GET /v1/statistics on both databases: counts from the facts the steps record, small
counts withheld, CSV, and who may read them."""

from __future__ import annotations

import csv
import io

from services.statistics.service import period_of, suppressed
from tests.conftest import example_order_report


def test_a_lone_small_count_takes_a_second_one_with_it():
    cells = {("2025-11", "x", "a"): 2, ("2025-11", "x", "b"): 7, ("2025-11", "x", "c"): 9}
    groups = {("2025-11", "x"): set(cells)}
    assert suppressed(cells, groups, {("2025-11", "x"): 18}, 5) == {
        ("2025-11", "x", "a"), ("2025-11", "x", "b")}
    # Two small counts already hide each other.
    cells[("2025-11", "x", "b")] = 3
    assert suppressed(cells, groups, {("2025-11", "x"): 14}, 5) == {
        ("2025-11", "x", "a"), ("2025-11", "x", "b")}


def test_periods():
    from datetime import date

    day = date(2025, 11, 30)
    assert [period_of(day, p) for p in ("month", "quarter", "year")] == [
        "2025-11", "2025-Q4", "2025"]


def _decided(stack, outcome: str, **extra) -> None:
    miviludes, order = stack.api("miviludes"), stack.api("cnom")
    item = miviludes.post("/v1/order-reports", example_order_report(professional={
        "last_name": "Martin", "first_names": ["Paul"], "profession": "MEDECINS"})).json()
    order.wait_delivered(item["id"])
    resp = order.post(f"/v1/order-reports/{item['id']}/decision",
                      {"outcome": outcome, "decided_on": "2025-11-30", **extra})
    assert resp.status_code == 201, resp.text


def test_counts_with_small_ones_withheld(stack):
    for _ in range(5):
        _decided(stack, "struck_off")
    _decided(stack, "warning")
    _decided(stack, "reprimand")
    api = stack.api("miviludes")
    stats = api.get("/v1/statistics", exchange="order-reports", by="outcome,profession",
                    period="year").json()
    assert stats["threshold"] == 5
    rows = {(r["outcome"], r["profession"]): r for r in stats["rows"]}
    assert rows[("struck_off", "MEDECINS")]["count"] == 5
    for small in (("warning", "MEDECINS"), ("reprimand", "MEDECINS")):
        assert rows[small] == {**rows[small], "count": None, "suppressed": True}
    assert all(r["count"] is None or r["count"] >= 5 for r in stats["rows"])
    assert all(r["suppressed"] == (r["count"] is None) for r in stats["rows"])
    # The legal basis in force, and whether each decision met its deadline (the "met"
    # count may be withheld beside a small "open" one: the total would give it away).
    basis = api.get("/v1/statistics", exchange="order-reports", by="legal_basis",
                    period="year").json()
    assert [(r["legal_basis"], r["count"] >= 7) for r in basis["rows"]] == [
        ("art. L. 4123-2 and L. 4124-6 CSP", True)]
    met = api.get("/v1/statistics", exchange="order-reports", by="deadline",
                  period="year").json()
    assert "met" in {r["deadline"] for r in met["rows"]}
    assert len([r for r in met["rows"] if r["suppressed"]]) != 1
    text = api.get("/v1/statistics", exchange="order-reports", by="outcome",
                   format="csv").text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["period", "exchange", "outcome", "count", "suppressed"]
    assert ["warning", "", "true"] in [row[2:] for row in table[1:]]


def test_who_may_read_them_and_bad_queries(stack):
    assert stack.api("plateforme-alpha").get("/v1/statistics").status_code == 403
    assert stack.api("asso-entraide-sud").get("/v1/statistics").status_code == 403
    api = stack.api("dgs")
    assert api.get("/v1/statistics").status_code == 200
    bad = api.get("/v1/statistics", since="2025-13-01", by="colour")
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"query:since", "query:by"}
    assert "colour" not in bad.text
    backwards = api.get("/v1/statistics", since="2025-06-01", until="2025-01-01")
    assert backwards.status_code == 422
    assert backwards.json()["errors"] == [{"field": "query:until",
                                           "message": "must be after since"}]
