"""Content notices end to end: priority lane, duplicates, the platform's decision
reaching the notifier, and the regulator reading everything."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import NO_ACTION, RESTRICTED, Api, events_for, example_notice


def test_notice_decision_reaches_the_notifier(stack):
    flagger, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    resp = flagger.post("/v1/content-notices", example_notice(urls=[
        "HTTPS://Video.Plateforme-Alpha.EXAMPLE:443/watch?v=abc#t=10",
        "https://video.plateforme-alpha.example/watch?v=abc"]))
    assert resp.status_code == 201, resp.text
    notice = resp.json()
    assert notice["content"]["urls"] == ["https://video.plateforme-alpha.example/watch?v=abc"]
    assert notice["content"]["priority"] is True and notice["content"]["trusted_flagger"] is True
    assert notice["lane"] == "priority"

    platform.wait_delivered(notice["id"])
    assert platform.get(f"/v1/content-notices/{notice['id']}").json()["status"] == "delivered"
    decided = platform.post(f"/v1/content-notices/{notice['id']}/decision", RESTRICTED)
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "decided"
    feed = flagger.wait_feed(lambda f: "decided" in events_for(f, notice["id"]))
    decision = [e for e in feed if e["event"]["subject"] == notice["id"]][-1]
    content = decision["event"]["data"]["content"]
    assert content["territorial_scope"] == ["EEA"]
    # The source is the hub's to say: a trusted flagger's notice, named.
    assert content["source_type"] == "SOURCE_TRUSTED_FLAGGER"
    assert content["source_identity"] == notice["content"]["notifier"]["name"]
    # Decided once: a second decision is refused.
    again = platform.post(f"/v1/content-notices/{notice['id']}/decision", NO_ACTION)
    assert again.status_code == 409


def test_priority_lane_is_measured_apart(stack):
    """Priority (DSA art. 22) only for an awarded trusted flagger within its areas: the
    regulator and Miviludes send standard notices."""
    platform = stack.api("plateforme-beta")
    for org in ("dgs", "miviludes", "arcom"):
        sent = stack.api(org).post("/v1/content-notices",
                                   example_notice(recipient="plateforme-beta")).json()
        assert (sent["lane"], sent["content"]["priority"]) == ("standard", False), org
    standard = stack.api("dgs").post("/v1/content-notices",
                                     example_notice(recipient="plateforme-beta")).json()
    # vigilance-alpha is awarded for dangerous health practices; vigilance-beta is not.
    priority = stack.api("vigilance-alpha").post(
        "/v1/content-notices", example_notice(recipient="plateforme-beta")).json()
    outside = stack.api("vigilance-beta").post(
        "/v1/content-notices", example_notice(recipient="plateforme-beta")).json()
    assert priority["content"]["priority"] is True and priority["content"]["trusted_flagger"]
    assert outside["lane"] == "standard" and outside["content"]["trusted_flagger"] is True
    # The priority deadline is shorter.
    assert priority["due_at"] < standard["due_at"]
    platform.wait_delivered(standard["id"])
    platform.wait_delivered(priority["id"])
    metrics = stack.http.get("/metrics").text
    assert 'vigie_delivery_latency_seconds_count{exchange="content-notices",lane="priority"}' \
        in metrics
    assert 'vigie_delivery_latency_seconds_count{exchange="content-notices",lane="standard"}' \
        in metrics


def test_duplicates_are_linked_to_the_open_notice(stack):
    flagger_a, flagger_b = stack.api("vigilance-alpha"), stack.api("vigilance-beta")
    platform = stack.api("plateforme-alpha")
    first = flagger_a.post("/v1/content-notices", example_notice()).json()
    assert first["content"]["duplicate_of"] is None
    url = first["content"]["urls"][0]
    # The same content written differently: host case, default port, fragment.
    variant = url.replace("https://video.plateforme-alpha.example",
                          "HTTPS://VIDEO.Plateforme-Alpha.example:443") + "#t=42"
    second = flagger_b.post("/v1/content-notices", example_notice(urls=[variant])).json()
    # The second notifier is not told of another organisation's notice (nor its id)...
    assert second["content"]["duplicate_of"] is None
    assert flagger_b.get(f"/v1/content-notices/{second['id']}").json()["content"][
        "duplicate_of"] is None
    # ...the platform is, in its feed and when it reads the notice.
    entry = platform.wait_delivered(second["id"])
    assert entry["event"]["data"]["content"]["duplicate_of"] == first["id"]
    assert platform.get(f"/v1/content-notices/{second['id']}").json()["content"][
        "duplicate_of"] == first["id"]
    # A notifier sees the link to its own earlier notice.
    own = flagger_a.post("/v1/content-notices", example_notice(urls=[url])).json()
    assert own["content"]["duplicate_of"] == first["id"]
    platform.wait_delivered(own["id"])
    platform.post(f"/v1/content-notices/{own['id']}/decision", NO_ACTION)
    # Another platform: no link.
    elsewhere = flagger_b.post("/v1/content-notices",
                          example_notice(recipient="plateforme-beta", urls=[url])).json()
    assert elsewhere["content"]["duplicate_of"] is None
    # Once decided, the first notice is closed: a new notice is not a duplicate of it.
    platform.wait_delivered(first["id"])
    platform.wait_delivered(second["id"])
    platform.post(f"/v1/content-notices/{first['id']}/decision", NO_ACTION)
    platform.post(f"/v1/content-notices/{second['id']}/decision", NO_ACTION)
    third = flagger_a.post("/v1/content-notices", example_notice(urls=[url])).json()
    assert third["content"]["duplicate_of"] is None
    # The regulator sees the duplication.
    seen = stack.api("arcom").get(f"/v1/content-notices/{second['id']}").json()
    assert seen["content"]["duplicate_of"] == first["id"]


def test_the_regulator_reads_every_notice_and_decision_but_cannot_decide(stack):
    notice = stack.api("dgs").post("/v1/content-notices", example_notice()).json()
    platform = stack.api("plateforme-alpha")
    platform.wait_delivered(notice["id"])
    platform.post(f"/v1/content-notices/{notice['id']}/decision", RESTRICTED)
    arcom = stack.api("arcom")
    read = arcom.get(f"/v1/content-notices/{notice['id']}")
    assert read.status_code == 200 and read.json()["status"] == "decided"
    # Without a stated purpose: what the notice is about, not its content.
    content = read.json()["content"]
    assert content["category"] == "dangerous_health_practice" and "withheld" in content
    assert "urls" not in content and "notifier" not in content
    assert read.json()["steps"][0]["content"] == {}
    listed = arcom.get("/v1/content-notices", limit=200).json()["items"]
    mine = next(i for i in listed if i["id"] == notice["id"])
    assert "urls" not in mine["content"]
    assert arcom.post(f"/v1/content-notices/{notice['id']}/decision", RESTRICTED
                      ).status_code == 403


def test_a_flaggers_status_follows_the_coordinators_decisions(stack):
    """Awarded from a date for some areas, then suspended, then awarded again: each notice
    takes the lane its sender's status gives on the day it is sent."""
    from datetime import date, timedelta

    from services.content_notices.rules import CATEGORIES
    from services.organisations import service as organisations

    org_id = f"signaleur-{uuid.uuid4().hex[:6]}"
    with stack.hub.db.transaction() as session:
        organisations.add_organisation(session, org_id, "trusted_flagger",
                                       f"Association fictive {org_id}")
        client, secret = organisations.add_client(session, org_id)
    token = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(client.client_id, secret)).json()["access_token"]
    flagger = Api(stack, org_id, token)
    stack.hub.directory.refresh()  # an unknown id is read again at most every 0.5 s

    def lane(category: str) -> tuple[str, bool]:
        sent = flagger.post("/v1/content-notices", example_notice(category=category)).json()
        return sent["lane"], sent["content"]["trusted_flagger"]

    def decide(status: str, areas: list[str], since: date) -> None:
        with stack.hub.db.transaction() as session:
            organisations.set_flagger_status(session, org_id, status, areas, since,
                                             "décision fictive", CATEGORIES)
        stack.hub.directory.refresh()

    today = date.today()
    assert lane("fraud") == ("standard", False)  # no status yet
    decide("awarded", ["fraud"], today + timedelta(days=30))
    assert lane("fraud") == ("standard", False)  # not yet in force
    decide("awarded", ["fraud"], today - timedelta(days=1))
    assert lane("fraud") == ("priority", True)
    assert lane("dangerous_health_practice") == ("standard", True)  # outside its areas
    decide("suspended", [], today)
    assert lane("fraud") == ("standard", False)
    with stack.hub.db.transaction() as session, pytest.raises(organisations.OrganisationError):
        organisations.set_flagger_status(session, "dgs", "awarded", ["fraud"], today, "x",
                                         CATEGORIES)


def test_the_platform_confirms_receipt_then_decides(stack):
    """DSA art. 16(4): a confirmation of receipt reaches the notifier; the decision follows
    from the acknowledged state; neither step twice."""
    notifier, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    notice = notifier.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(notice["id"])
    path = f"/v1/content-notices/{notice['id']}"
    # Only the platform confirms receipt.
    assert notifier.post(f"{path}/acknowledgement", {}).status_code == 403
    acked = platform.post(f"{path}/acknowledgement", {"reference": "TS-1"})
    assert acked.status_code == 201, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert platform.post(f"{path}/acknowledgement", {}).status_code == 409
    feed = notifier.wait_feed(lambda f: "acknowledged" in events_for(f, notice["id"]))
    received = [e for e in feed if e["event"]["subject"] == notice["id"]][-1]
    assert received["event"]["data"]["content"] == {"reference": "TS-1"}
    decided = platform.post(f"{path}/decision", RESTRICTED)
    assert decided.status_code == 201 and decided.json()["status"] == "decided"
    assert platform.post(f"{path}/acknowledgement", {}).status_code == 409


def test_the_statement_of_reasons_in_the_transparency_databases_shape(stack):
    """What the platform forwards to the database (art. 24(5)): the same fields and values,
    Yes/No, scopes as country codes, the source as the hub knows it; then its id there."""
    miviludes, platform = stack.api("miviludes"), stack.api("plateforme-alpha")
    notice = miviludes.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(notice["id"])
    path = f"/v1/content-notices/{notice['id']}"
    assert platform.get(f"{path}/statement-of-reasons").status_code == 409  # not decided
    both = {**RESTRICTED, "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": "Conditions d'utilisation, § 4.2",
            "incompatible_content_explanation": "Contenu de santé trompeur.",
            "incompatible_content_illegal": True, "territorial_scope": ["FR", "EU"],
            "automated_detection": True,
            "automated_decision": "AUTOMATED_DECISION_PARTIALLY"}
    assert platform.post(f"{path}/decision", both).status_code == 201
    statement = platform.get(f"{path}/statement-of-reasons")
    assert statement.status_code == 200, statement.text
    sor = statement.json()
    assert sor["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert (sor["incompatible_content_illegal"], sor["automated_detection"]) == ("Yes", "Yes")
    assert sor["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
    assert sor["illegal_content_legal_ground"] == "art. 223-1-2 CP"
    assert len(sor["territorial_scope"]) == 27 and "FR" in sor["territorial_scope"]
    assert "NO" not in sor["territorial_scope"]
    # An art. 16 notice: the source type, never the notifier's name (the database is public).
    assert sor["source_type"] == "SOURCE_ARTICLE_16" and "source_identity" not in sor
    assert not {"outcome", "redress", "no_action_reasons", "uuid"} & set(sor)
    # The notifier and the regulator read it too; another platform does not.
    assert miviludes.get(f"{path}/statement-of-reasons").json() == sor
    assert stack.api("arcom").get(f"{path}/statement-of-reasons").status_code == 200
    assert stack.api("plateforme-beta").get(f"{path}/statement-of-reasons").status_code == 404

    tdb_id = str(uuid.uuid4())
    bad = platform.post(f"{path}/publication", {"transparency_database_id": "not-a-uuid"})
    assert bad.status_code == 422
    published = platform.post(f"{path}/publication", {"transparency_database_id": tdb_id})
    assert published.status_code == 201, published.text
    assert published.json()["status"] == "decided"
    assert platform.get(f"{path}/statement-of-reasons").json()["uuid"] == tdb_id
    again = platform.post(f"{path}/publication", {"transparency_database_id": tdb_id})
    assert again.status_code == 422
    miviludes.wait_feed(lambda f: "published" in events_for(f, notice["id"]))


def test_no_action_has_no_statement_to_publish(stack):
    platform = stack.api("plateforme-alpha")
    notice = stack.api("miviludes").post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(notice["id"])
    path = f"/v1/content-notices/{notice['id']}"
    platform.post(f"{path}/decision", NO_ACTION)
    assert platform.get(f"{path}/statement-of-reasons").status_code == 409
    refused = platform.post(f"{path}/publication",
                            {"transparency_database_id": str(uuid.uuid4())})
    assert refused.json()["errors"][0]["message"] == (
        "only a restriction has a statement of reasons to publish")


def test_the_notifier_contests_the_decision_and_the_platform_answers(stack):
    """DSA art. 20: the complaint reaches the platform, its answer is due and is given by
    qualified staff; the notifier receives it."""
    flagger, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    notice = flagger.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(notice["id"])
    path = f"/v1/content-notices/{notice['id']}"
    early = flagger.post(f"{path}/complaint", {"grounds": "Pas encore décidé."})
    assert early.status_code == 409
    platform.post(f"{path}/decision", NO_ACTION)
    assert platform.post(f"{path}/complaint", {"grounds": "x"}).status_code == 403
    contested = flagger.post(f"{path}/complaint",
                             {"grounds": "Le contenu provoque à l'abandon de soins."})
    assert contested.status_code == 201, contested.text
    assert contested.json()["status"] == "contested"
    assert contested.json()["due_at"] is not None and contested.json()["overdue"] is False
    platform.wait_feed(lambda f: "contested" in events_for(f, notice["id"]))
    answer = {"result": "reversed", "explanation": "Après réexamen, la vidéo est retirée.",
              "human_review": False, "redress": "Art. 21 DSA ou juge."}
    assert platform.post(f"{path}/complaint-decision", answer).json()["errors"] == [
        {"field": "human_review", "message": "must be true: a complaint is decided under the "
         "supervision of qualified staff, not solely by automated means (DSA art. 20(6))"}]
    done = platform.post(f"{path}/complaint-decision", {**answer, "human_review": True})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "complaint_decided" and done.json()["overdue"] is False
    flagger.wait_feed(lambda f: "complaint_decided" in events_for(f, notice["id"]))
    assert flagger.post(f"{path}/complaint", {"grounds": "Encore."}).status_code == 409


def test_a_complaint_comes_within_six_months_of_the_decision(stack):
    from datetime import timedelta

    from sqlalchemy import select

    from services.exchanges.models import ItemStep

    flagger, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    notice = flagger.post("/v1/content-notices", example_notice()).json()
    platform.wait_delivered(notice["id"])
    platform.post(f"/v1/content-notices/{notice['id']}/decision", NO_ACTION)
    with stack.hub.db.transaction() as session:
        step = session.scalars(select(ItemStep).where(ItemStep.item_id == notice["id"],
                                                      ItemStep.action == "decision")).one()
        step.created_at = step.created_at - timedelta(days=200)
    late = flagger.post(f"/v1/content-notices/{notice['id']}/complaint", {"grounds": "Tard."})
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "grounds"


def test_the_regulator_reads_a_notice_on_an_explicit_audited_request(stack):
    """DSA supervision: the content with a stated purpose, recorded in the audit log with
    the agent; the notifier's identity only when asked for too."""
    from urllib.parse import quote

    from sqlalchemy import select

    from services.audit.models import AuditEntry

    notice = stack.api("dgs").post("/v1/content-notices", example_notice()).json()
    stack.api("plateforme-alpha").wait_delivered(notice["id"])
    arcom = stack.api("arcom")
    arcom.extra_headers["Vigie-Purpose"] = quote("Contrôle art. 22 DSA, dossier ARCOM-2025-17")
    arcom.extra_headers["Vigie-Agent"] = "arcom-agent-42"
    read = arcom.get(f"/v1/content-notices/{notice['id']}").json()
    assert read["content"]["urls"] == notice["content"]["urls"]
    assert "notifier" not in read["content"] and "withheld" not in read["content"]
    named = arcom.get(f"/v1/content-notices/{notice['id']}", identity="true").json()
    assert named["content"]["notifier"] == notice["content"]["notifier"]
    with stack.hub.db.sessions() as session:
        audited = session.scalars(select(AuditEntry).where(
            AuditEntry.org_id == "arcom",
            AuditEntry.object.like(f"/v1/content-notices/{notice['id']}%"))).all()
    # The content read, then the notifier's identity disclosed: the entry says which.
    assert sorted(e.object.removeprefix(f"/v1/content-notices/{notice['id']}")
                  for e in audited) == ["", "?identity=true"]
    assert {(e.purpose, e.agent) for e in audited} == {
        ("Contrôle art. 22 DSA, dossier ARCOM-2025-17", "arcom-agent-42")}
    arcom.extra_headers["Vigie-Purpose"] = "x" * 201
    assert arcom.get(f"/v1/content-notices/{notice['id']}").status_code == 422
    # The parties see their notice whole, whatever they state.
    assert "notifier" in stack.api("dgs").get(f"/v1/content-notices/{notice['id']}"
                                              ).json()["content"]
