"""OpenTelemetry traces: one trace per message, from the request that sent it through the
write (the writer process's commit), the outbox relay's publication to Kafka and each
webhook delivery. The context travels with the message: the CloudEvents `traceparent`
extension attribute of its envelope (kept with it in the feed), the W3C `traceparent`
header of its Kafka record and of each webhook POST. A caller's own `traceparent` header
starts the trace in its system.

Off unless an OTLP endpoint is configured (VIGIE_OTLP_ENDPOINT): then the hot path pays
one flag test. Spans carry operation ids, item ids, topics and statuses — never a body.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer: Tracer | None = None
_provider: Any = None

def enabled() -> bool:
    return _tracer is not None


def install(provider: Any | None) -> None:
    """Record with `provider` (an SDK TracerProvider), or stop recording (None). Not the
    global provider of the API: the hub's spans only, set and unset freely (tests)."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("vigie") if provider is not None else None


def configure(endpoint: str, service_name: str) -> None:
    """Export over OTLP/HTTP (protobuf) to `endpoint` in batches, when one is set."""
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{endpoint}/v1/traces")))
    install(provider)


def shutdown() -> None:
    """Export what is pending (a process stopping)."""
    if _provider is not None:
        _provider.shutdown()


def traceparent() -> str | None:
    """The W3C traceparent of the current span (None when not recording)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def carried(message: str | bytes, *within: str) -> str | None:
    """The `traceparent` a JSON message carries (at the key path `within`), read only
    when recording and when the text names one."""
    marker = '"traceparent"' if isinstance(message, str) else b'"traceparent"'
    if _tracer is None or marker not in message:
        return None
    try:
        value = json.loads(message)
        for key in within:
            value = value.get(key) or {}
        found = value.get("traceparent")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def context_from(parent: str | None) -> otel_context.Context | None:
    """The context a `traceparent` value names (None for none or a malformed one)."""
    if not parent:
        return None
    extracted = _PROPAGATOR.extract({"traceparent": parent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid \
        else None


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, parent: str | None = None,
         **attributes: Any) -> Iterator[Any]:
    """A span (the current one's child, or `parent`'s when given); nothing when off."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
            name, context=context_from(parent), kind=kind,
            attributes={k: v for k, v in attributes.items() if v is not None},
            record_exception=True, set_status_on_exception=True) as current:
        yield current


def fail(current: Any, description: str) -> None:
    """Mark a span as failed (an error answer, a refused delivery)."""
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, description))
