"""The one envelope: CloudEvents 1.0 attributes plus the hub's extensions."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from schemas.envelope import Envelope


def _envelope() -> Envelope:
    return Envelope(type="fr.gouv.vigie.information-requests.answered", source="/v1/x",
                    subject="item-1", senderorg="miviludes", recipientorg="tj-paris",
                    correlationid="item-1", data={"text": "réponse"})


def test_round_trip():
    env = _envelope()
    back = Envelope.from_json(env.to_json())
    assert back == env
    assert back.exchange == "information-requests" and back.event == "answered"
    wire = json.loads(env.to_json())
    assert wire["specversion"] == "1.0" and wire["datacontenttype"] == "application/json"
    assert wire["time"].endswith("+00:00")


@pytest.mark.parametrize("change", [
    {"specversion": "0.3"}, {"type": "com.example.other"}, {"senderorg": "Not A Slug"},
    {"time": "yesterday"}, {"data": "text"}, {"id": ""},
])
def test_invalid_envelopes_are_refused(change):
    wire = json.loads(_envelope().to_json())
    wire.update(change)
    with pytest.raises(ValidationError):
        Envelope.from_json(json.dumps(wire))


def test_not_json():
    with pytest.raises(ValidationError):
        Envelope.from_json(b"\xff")
