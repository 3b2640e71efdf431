"""The AsyncAPI document describes the topics and events the hub really uses, with the
contract's own schemas (tools/contract_files.py)."""

from __future__ import annotations

import yaml

from services.config import ROOT, Settings
from services.exchanges.registry import EXCHANGES
from services.messaging.topics import feed_topic

DOC = yaml.safe_load((ROOT / "openapi" / "asyncapi.yaml").read_text())
CONTRACT = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())


def test_the_recipients_topics_and_every_event_are_described():
    settings = Settings.from_env({})
    channels = list(DOC["channels"].values())
    assert [c["address"] for c in channels] == [feed_topic(settings, "{org}")]
    described = set(channels[0]["messages"])
    assert described == {f"{name}.{event}" for name, exchange in EXCHANGES.items()
                         for event in exchange.events}


def test_each_message_is_the_contracts_event_of_its_type():
    schemas = CONTRACT["components"]["schemas"]
    for message in DOC["components"]["messages"].values():
        payload = message["payload"]
        assert payload["schemaFormat"].startswith("application/vnd.oai.openapi;version=3.0")
        ref = payload["schema"]["properties"]["event"]["$ref"]
        assert ref.startswith("vigie.yaml#/components/schemas/")
        event = schemas[ref.rsplit("/", 1)[1]]
        # The envelope's attributes, with `type` narrowed to the message's.
        envelope = schemas["Envelope"]
        assert set(event["properties"]) == set(envelope["properties"])
        assert event["required"] == envelope["required"]
        assert event["properties"]["type"]["enum"] == [message["name"]]


def test_the_envelope_schema_matches_the_marshmallow_envelope():
    from schemas.envelope import EnvelopeSchema

    described = set(CONTRACT["components"]["schemas"]["Envelope"]["properties"])
    assert described == set(EnvelopeSchema().fields)


def test_recipients_read_through_the_oauthbearer_listener():
    settings = Settings.from_env({})
    server = DOC["servers"]["local"]
    assert server["host"] == settings.kafka_external_bootstrap
    assert server["security"] == [{"$ref": "#/components/securitySchemes/oauthbearer"}]
    scheme = DOC["components"]["securitySchemes"]["oauthbearer"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == \
        f"{settings.public_url}/oauth/token"
    assert scheme["scopes"] == ["feed:read"]


def test_each_message_declares_the_record_headers_the_relay_sets():
    # ce_id (tests/services/messaging) and traceparent (tests/services/test_tracing.py).
    for message in DOC["components"]["messages"].values():
        assert set(message["headers"]["properties"]) == {"ce_id", "traceparent"}
