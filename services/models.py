"""All tables, imported here so that Alembic and the tests see one metadata."""

from .audit.models import AuditEntry, AuditHead  # noqa: F401
from .console.models import Agent, Draft, NoticeCursor  # noqa: F401
from .db import Base
from .documents.models import Document  # noqa: F401
from .evidence.models import Evidence  # noqa: F401
from .exchanges.models import Item, ItemKey, ItemStep  # noqa: F401
from .feed.models import FeedHead, FeedItem  # noqa: F401
from .idempotency.models import IdempotencyRecord  # noqa: F401
from .messaging.models import TopicErasure, TopicPosition  # noqa: F401
from .oauth.models import SigningKey  # noqa: F401
from .organisations.models import Client, Organisation  # noqa: F401
from .verifiable_log.models import (  # noqa: F401
    Checkpoint,
    LogHead,
    LogKey,
    LogLeaf,
    LogNode,
    LogSigningKey,
)
from .webhooks.models import Webhook, WebhookDelivery  # noqa: F401

metadata = Base.metadata
