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
    described = set()
    for exchange in EXCHANGES.values():
        for lane in exchange.lanes:
            address = exchange_topic(settings, exchange.topic_name, lane)
            assert set(channels[address]["messages"]) == exchange.events, address
            described.add(address)
    assert described == set(channels)


def test_the_envelope_schema_matches_the_marshmallow_envelope():
    from schemas.envelope import EnvelopeSchema

    described = set(DOC["components"]["schemas"]["Envelope"]["properties"])
    assert described == set(EnvelopeSchema().fields)
