"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import example_request


def test_healthz_and_readyz(stack):
    assert stack.http.get("/healthz").json() == {"status": "ok"}
    ready = stack.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "writer": "ok"}


def test_metrics_follow_the_conventions(stack):
    court = stack.api("tj-paris")
    court.post("/v1/information-requests", example_request())
    court.get("/v1/information-requests/nope")
    text = stack.http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["vigie_http_requests"]
    labels = {(s.labels["route"], s.labels["status"]) for s in requests.samples}
    assert ("information-requests.submit", "201") in labels
    assert ("information-requests.read", "404") in labels
    # Bounded labels: never an item id.
    assert not any("nope" in str(s.labels) for f in families.values() for s in f.samples)
    assert "vigie_http_request_duration_seconds" in families
    assert families["vigie_outbox_backlog"].type == "gauge"
    assert "vigie_submissions" in families
