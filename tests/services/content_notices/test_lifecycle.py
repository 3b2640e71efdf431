"""Content notices end to end: priority lane, duplicates, the platform's decision
reaching the notifier, and the regulator reading everything."""

from __future__ import annotations

from tests.conftest import NO_ACTION, RESTRICTED, events_for, example_notice


def test_notice_decision_reaches_the_notifier(stack):
    flagger, platform = stack.api("unadfi"), stack.api("plateforme-alpha")
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
    assert decision["event"]["data"]["content"]["restrictions"][0]["territorial_scope"] == ["EEA"]
    # Decided once: a second decision is refused.
    again = platform.post(f"/v1/content-notices/{notice['id']}/decision", NO_ACTION)
    assert again.status_code == 409


def test_priority_lane_is_measured_apart(stack):
    dgs, miviludes = stack.api("dgs"), stack.api("miviludes")
    platform = stack.api("plateforme-beta")
    standard = dgs.post("/v1/content-notices", example_notice(recipient="plateforme-beta")).json()
    priority = miviludes.post("/v1/content-notices",
                              example_notice(recipient="plateforme-beta")).json()
    assert (standard["lane"], priority["lane"]) == ("standard", "priority")
    assert standard["content"]["priority"] is False
    assert priority["content"]["priority"] is True and not priority["content"]["trusted_flagger"]
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
    unadfi, ccmm = stack.api("unadfi"), stack.api("ccmm")
    platform = stack.api("plateforme-alpha")
    first = unadfi.post("/v1/content-notices", example_notice()).json()
    assert first["content"]["duplicate_of"] is None
    url = first["content"]["urls"][0]
    # The same content written differently: host case, default port, fragment.
    variant = url.replace("https://video.plateforme-alpha.example",
                          "HTTPS://VIDEO.Plateforme-Alpha.example:443") + "#t=42"
    second = ccmm.post("/v1/content-notices", example_notice(urls=[variant])).json()
    # The second notifier is not told of another organisation's notice (nor its id)...
    assert second["content"]["duplicate_of"] is None
    assert ccmm.get(f"/v1/content-notices/{second['id']}").json()["content"][
        "duplicate_of"] is None
    # ...the platform is, in its feed and when it reads the notice.
    entry = platform.wait_delivered(second["id"])
    assert entry["event"]["data"]["content"]["duplicate_of"] == first["id"]
    assert platform.get(f"/v1/content-notices/{second['id']}").json()["content"][
        "duplicate_of"] == first["id"]
    # A notifier sees the link to its own earlier notice.
    own = unadfi.post("/v1/content-notices", example_notice(urls=[url])).json()
    assert own["content"]["duplicate_of"] == first["id"]
    platform.wait_delivered(own["id"])
    platform.post(f"/v1/content-notices/{own['id']}/decision", NO_ACTION)
    # Another platform: no link.
    elsewhere = ccmm.post("/v1/content-notices",
                          example_notice(recipient="plateforme-beta", urls=[url])).json()
    assert elsewhere["content"]["duplicate_of"] is None
    # Once decided, the first notice is closed: a new notice is not a duplicate of it.
    platform.wait_delivered(first["id"])
    platform.wait_delivered(second["id"])
    platform.post(f"/v1/content-notices/{first['id']}/decision", NO_ACTION)
    platform.post(f"/v1/content-notices/{second['id']}/decision", NO_ACTION)
    third = unadfi.post("/v1/content-notices", example_notice(urls=[url])).json()
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
    assert read.json()["steps"][0]["content"]["outcome"] == "restricted"
    listed = arcom.get("/v1/content-notices", limit=200).json()["items"]
    assert notice["id"] in [i["id"] for i in listed]
    assert arcom.post(f"/v1/content-notices/{notice['id']}/decision", RESTRICTED
                      ).status_code == 403
