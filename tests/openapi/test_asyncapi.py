"""The AsyncAPI document describes the topics and events the hub really uses."""

from __future__ import annotations

import yaml

from services.config import ROOT, Settings
from services.exchanges.registry import EXCHANGES
from services.messaging.topics import exchange_topic

DOC = yaml.safe_load((ROOT / "openapi" / "asyncapi.yaml").read_text())


def test_every_exchange_topic_and_event_is_described():
    settings = Settings.from_env({})
    channels = {c["address"]: c for c in DOC["channels"].values()}
    for exchange in EXCHANGES.values():
        channel = channels[exchange_topic(settings, exchange.topic_name)]
        assert set(channel["messages"]) == exchange.events


def test_the_envelope_schema_matches_the_marshmallow_envelope():
    from schemas.envelope import EnvelopeSchema

    described = set(DOC["components"]["schemas"]["Envelope"]["properties"])
    assert described == set(EnvelopeSchema().fields)
