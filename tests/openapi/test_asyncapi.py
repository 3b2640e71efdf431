"""The AsyncAPI document describes the topics and events the hub really uses."""

from __future__ import annotations

import yaml

from services.config import ROOT, Settings
from services.exchanges.registry import EXCHANGES
from services.messaging.topics import feed_topic

DOC = yaml.safe_load((ROOT / "openapi" / "asyncapi.yaml").read_text())


def test_the_recipients_topics_and_every_event_are_described():
    settings = Settings.from_env({})
    channels = list(DOC["channels"].values())
    assert [c["address"] for c in channels] == [feed_topic(settings, "{org}")]
    described = set(channels[0]["messages"])
    assert described == {f"{name}.{event}" for name, exchange in EXCHANGES.items()
                         for event in exchange.events}


def test_the_envelope_schema_matches_the_marshmallow_envelope():
    from schemas.envelope import EnvelopeSchema

    described = set(DOC["components"]["schemas"]["Envelope"]["properties"])
    assert described == set(EnvelopeSchema().fields)


def test_every_step_and_the_documents_it_carries_are_described():
    step = DOC["components"]["messages"]["ItemStep"]["payload"]["properties"]["event"]
    data = step["allOf"][1]["properties"]["data"]["properties"]
    assert set(data["action"]["enum"]) == {t.action for e in EXCHANGES.values()
                                           for t in e.transitions}
    assert data["content"]["properties"]["documents"]["items"]["$ref"] == \
        "#/components/schemas/Document"
    assert {"id", "sha256"} <= set(DOC["components"]["schemas"]["Document"]["required"])
