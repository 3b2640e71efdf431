"""A 2xx means durable: with the broker down, submissions are accepted and in the
recipient's REST feed; once the broker is back its Kafka topic carries them too — every
one, exactly once, in the feed's order."""

from __future__ import annotations

from collections import Counter

from tests.conftest import example_request, wait_topic_matches_feed


def test_broker_stopped_during_submissions(stack, broker):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    accepted = [court.post("/v1/information-requests", example_request()).json()["id"]
                for _ in range(5)]
    broker.stop()
    try:
        ready = stack.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] == "unreachable"
        for _ in range(20):
            resp = court.post("/v1/information-requests", example_request())
            assert resp.status_code == 201, resp.text
            accepted.append(resp.json()["id"])
    finally:
        broker.start()
    assert stack.http.get("/readyz").status_code == 200

    wanted = set(accepted)
    feed = miviludes.wait_feed(
        lambda f: wanted <= {i["event"]["subject"] for i in f}, timeout=120)
    delivered = Counter(i["event"]["subject"] for i in feed
                        if i["event"]["subject"] in wanted
                        and i["event"]["type"].endswith(".submitted"))
    assert set(delivered) == wanted
    assert all(n == 1 for n in delivered.values())
    # The feed keeps the submission order for one sender's stream of cases.
    cursors = [int(i["cursor"]) for i in feed]
    assert cursors == sorted(cursors) and len(cursors) == len(set(cursors))
    # The recipient's own topic: the same entries, once each, in the same order.
    topic = wait_topic_matches_feed(stack, "miviludes", timeout=120)
    assert wanted <= {e["event"]["subject"] for e in topic}
