"""The one message envelope every exchange travels in: CloudEvents 1.0 attributes
plus the sender and recipient organisations and a correlation id (extensions)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from .jsontext import dumps_bytes

EVENT_TYPE_PREFIX = "fr.gouv.vigie."
_ORG = validate.Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True)
class Envelope:
    type: str
    source: str
    subject: str
    senderorg: str
    recipientorg: str
    correlationid: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    specversion: str = "1.0"
    datacontenttype: str = "application/json"
    # CloudEvents distributed tracing extension: the W3C trace context of the request
    # that caused the message (present when the hub records traces).
    traceparent: str | None = None

    @property
    def exchange(self) -> str:
        """The exchange named by the type: fr.gouv.vigie.<exchange>.<event>."""
        return self.type.removeprefix(EVENT_TYPE_PREFIX).rsplit(".", 1)[0]

    @property
    def event(self) -> str:
        return self.type.rsplit(".", 1)[1]

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object (built directly: this runs for every message;
        `EnvelopeSchema` checks what comes in)."""
        out = {"specversion": self.specversion, "id": self.id, "source": self.source,
               "type": self.type, "subject": self.subject, "time": self.time.isoformat(),
               "datacontenttype": self.datacontenttype, "senderorg": self.senderorg,
               "recipientorg": self.recipientorg, "correlationid": self.correlationid,
               "data": self.data}
        if self.traceparent:
            out["traceparent"] = self.traceparent
        return out

    def to_json(self) -> bytes:
        return dumps_bytes(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"not JSON: {exc}") from None
        return EnvelopeSchema().load(data)

    def replace(self, **changes: Any) -> Envelope:
        return Envelope(**{**asdict(self), **changes})


class EnvelopeSchema(Schema):
    """Structured-mode CloudEvents JSON; unknown extension attributes are ignored."""

    class Meta:
        unknown = EXCLUDE

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    source = fields.String(required=True, validate=validate.Length(min=1, max=256))
    type = fields.String(required=True, validate=[
        validate.Length(max=128),
        validate.Regexp(r"^fr\.gouv\.vigie\.[a-z-]+\.[a-z_]+$")])
    subject = fields.String(required=True, validate=validate.Length(min=1, max=128))
    time = fields.AwareDateTime(required=True, format="iso")
    datacontenttype = fields.String(load_default="application/json",
                                    validate=validate.Equal("application/json"))
    senderorg = fields.String(required=True, validate=_ORG)
    recipientorg = fields.String(required=True, validate=_ORG)
    correlationid = fields.String(required=True, validate=validate.Length(min=1, max=128))
    data = fields.Dict(required=True)
    traceparent = fields.String(load_default=None, validate=validate.Regexp(
        r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"))

    @post_load
    def _make(self, values: dict[str, Any], **_: Any) -> Envelope:
        return Envelope(**values)
