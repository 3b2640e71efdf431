"""One trace per message, from the caller's request through the commit, the relay's
publication to Kafka (the record's `traceparent` header) and a webhook delivery, with the
context in the envelope (CloudEvents `traceparent`); exported over OTLP/HTTP when
configured. Spans are read with the SDK's in-memory exporter, on the real stack."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services import tracing
from services.messaging.topics import feed_topic
from services.webhooks.service import deliver, new_secret
from tests.conftest import example_request, topic_records

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)


def _of_trace(exporter: InMemorySpanExporter, name: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [s for s in exporter.get_finished_spans()
                 if s.name == name and f"{s.context.trace_id:032x}" == TRACE]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no span {name!r} in the trace; have "
                         f"{sorted({s.name for s in exporter.get_finished_spans()})}")


def test_a_message_is_one_trace_from_the_request_to_the_topic(stack, spans):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    sent = court.post("/v1/information-requests", example_request(),
                      headers={"traceparent": CALLER})
    assert sent.status_code == 201, sent.text
    item = sent.json()["id"]

    server = _of_trace(spans, "POST information-requests.submit")
    assert server.kind == SpanKind.SERVER
    assert f"{server.parent.span_id:016x}" == "00f067aa0ba902b7"     # the caller's span
    assert server.attributes["http.route"] == "information-requests.submit"
    assert server.attributes["http.response.status_code"] == 201
    assert server.attributes["vigie.request_id"] == sent.headers["x-request-id"]
    commit = _of_trace(spans, "commit")
    assert commit.parent.span_id == server.context.span_id

    # The envelope carries the request's context to the recipient.
    entry = miviludes.wait_delivered(item)
    assert entry["event"]["traceparent"].split("-")[1] == TRACE

    topic = feed_topic(stack.settings, "miviludes")
    published = _of_trace(spans, f"publish {topic}")
    assert published.kind == SpanKind.PRODUCER
    assert published.attributes["vigie.item_id"] == item
    record = next(r for r in topic_records(stack.settings, "miviludes")
                  if json.loads(r.value)["event"]["subject"] == item)
    header = dict(record.headers)["traceparent"].decode()
    assert header == f"00-{TRACE}-{published.context.span_id:016x}-01"
    # Nothing a span holds is a body: no attribute value contains the request's text.
    text = json.dumps(example_request(), ensure_ascii=False)
    for span in spans.get_finished_spans():
        assert not any(str(v) in text for v in span.attributes.values()
                       if isinstance(v, str) and len(v) > 12), span.name


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Receiver.got.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                              body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.got = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.got
    server.shutdown()


def test_a_webhook_delivery_continues_the_messages_trace(stack, spans, receiver):
    url, got = receiver
    settings = dataclasses.replace(stack.settings, webhook_allow_http=True,
                                   webhook_allow_private=True)
    body = json.dumps({"cursor": "7", "delivered_at": "2026-12-06T10:00:00+00:00",
                       "event": {"id": "e1", "traceparent": CALLER}}).encode()
    with httpx.Client() as http:
        ok, status, error = deliver(http, settings, url + "/hook", [new_secret()], "msg_1",
                                    body)
    assert (ok, status, error) == (True, 200, None)
    delivery = _of_trace(spans, "deliver webhook")
    assert delivery.kind == SpanKind.CLIENT
    assert f"{delivery.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert got[0][1]["traceparent"] == f"00-{TRACE}-{delivery.context.span_id:016x}-01"


def test_without_an_endpoint_nothing_is_recorded(stack):
    assert not tracing.enabled()
    sent = stack.api("tj-paris").post("/v1/information-requests", example_request(),
                                      headers={"traceparent": CALLER})
    assert sent.status_code == 201
    entry = stack.api("miviludes").wait_delivered(sent.json()["id"])
    assert "traceparent" not in entry["event"]


def test_spans_are_exported_over_otlp_http(receiver):
    url, got = receiver
    tracing.configure(url, "vigie-test")
    try:
        with tracing.span("commit", SpanKind.CLIENT, parent=CALLER):
            pass
        tracing.shutdown()       # flushes the batch
    finally:
        tracing.install(None)
    path, headers, body = got[-1]
    assert path == "/v1/traces" and headers["content-type"] == "application/x-protobuf"
    exported = ExportTraceServiceRequest.FromString(body)
    (resource,) = exported.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "vigie-test"
    (span,) = [s for scope in resource.scope_spans for s in scope.spans]
    assert span.name == "commit" and span.trace_id.hex() == TRACE
