"""Miviludes ↔ the orders end to end on both databases: routing by profession, the
order's question and Miviludes' answer, the complaint and the disciplinary decision."""

from __future__ import annotations

from tests.conftest import events_for, example_order_report


def test_report_question_answer_complaint_decision(stack):
    miviludes, order = stack.api("miviludes"), stack.api("cnop")
    created = miviludes.post("/v1/order-reports", example_order_report())
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["recipient"], item["status"]) == ("cnop", "delivered")
    order.wait_delivered(item["id"])
    path = f"/v1/order-reports/{item['id']}"
    ack = order.post(f"{path}/acknowledgement", {"reference": "CNOP-1"})
    assert ack.status_code == 201, ack.text
    asked = order.post(f"{path}/question", {"question": "Des patients témoigneront-ils ?"})
    assert asked.json()["status"] == "awaiting_answer"
    # An answer is due within a month: sooner than the order's outcome.
    assert asked.json()["due_at"] < ack.json()["due_at"]
    miviludes.wait_feed(lambda f: "question_asked" in events_for(f, item["id"]))
    # Only Miviludes answers; the order cannot answer its own question.
    assert order.post(f"{path}/answer", {"answer": "x"}).status_code == 403
    answered = miviludes.post(f"{path}/answer", {"answer": "Deux familles ont accepté."})
    assert answered.json()["status"] == "acknowledged"
    filed = order.post(f"{path}/complaint", {"filed_on": "2025-11-15"})
    assert filed.json()["status"] == "complaint_filed"
    missing = order.post(f"{path}/decision", {"outcome": "temporary_ban",
                                              "decided_on": "2025-11-30"})
    assert missing.json()["errors"] == [{"field": "ban_months",
                                         "message": "required for a temporary ban"}]
    decided = order.post(f"{path}/decision", {"outcome": "temporary_ban", "ban_months": 6,
                                              "decided_on": "2025-11-30", "final": False})
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "decided"
    miviludes.wait_feed(lambda f: "decided" in events_for(f, item["id"]))


def test_routing_by_profession_and_isolation(stack):
    api = stack.api("miviludes")
    doctors = api.post("/v1/order-reports", example_order_report(professional={
        "last_name": "Martin", "first_names": ["Paul"], "profession": "MEDECINS"})).json()
    assert doctors["recipient"] == "cnom"
    stack.api("cnom").wait_delivered(doctors["id"])
    nobody = api.post("/v1/order-reports", example_order_report(professional={
        "last_name": "Martin", "first_names": ["Paul"], "profession": "SAGES_FEMMES"}))
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "professional.profession"
    bad_rpps = api.post("/v1/order-reports", example_order_report(professional={
        "rpps": "10001234566", "last_name": "M", "first_names": ["P"],
        "profession": "MEDECINS"}))
    assert bad_rpps.json()["errors"][0]["field"] == "professional.rpps"
    path = f"/v1/order-reports/{doctors['id']}"
    for outsider in ("cnop", "dgs", "pr-paris", "asso-entraide-sud"):
        assert stack.api(outsider).get(path).status_code == 404, outsider
    assert stack.api("pr-paris").post("/v1/order-reports",
                                      example_order_report()).status_code == 403
